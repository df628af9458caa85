import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { SealerSecrets } from '../cache/sealer.js';
import type { Config } from '../config.js';

const SECRET_BYTES = 32;
/** Where a development secret is kept, under DATA_DIR. */
export const SESSION_SECRET_FILE = 'session-secret';

/** 32 bytes given as 64 hex digits or as base64 (standard or URL-safe, padding optional); null otherwise. */
export function decodeSessionSecret(text: string): Buffer | null {
  const trimmed = text.trim();
  if (/^[0-9a-f]{64}$/i.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) return null;
  const bytes = Buffer.from(trimmed.replace(/=$/, ''), trimmed.includes('-') || trimmed.includes('_') ? 'base64url' : 'base64');
  return bytes.length === SECRET_BYTES ? bytes : null;
}

/**
 * The secrets the cache is sealed under. SESSION_SECRET when set (config refuses production
 * without it). Otherwise, for development and tests: with a `memory://` database, which lives
 * no longer than the process, a random one; else one generated once and kept in
 * `<DATA_DIR>/session-secret` (mode 0600), so that values sealed before a restart still open.
 * The secret itself is never logged.
 */
export function resolveSessionSecrets(
  config: Pick<Config, 'SESSION_SECRET' | 'SESSION_SECRET_PREVIOUS' | 'DATABASE_URL' | 'DATA_DIR'>,
  logger: Logger,
): SealerSecrets {
  const previous = config.SESSION_SECRET_PREVIOUS.map((text) => decodeSessionSecret(text)!);
  if (config.SESSION_SECRET !== undefined) return { current: decodeSessionSecret(config.SESSION_SECRET)!, previous };
  if (config.DATABASE_URL === 'memory://') {
    logger.info('SESSION_SECRET is not set: the session cache is sealed under a random secret for this process (the memory:// database lives no longer)');
    return { current: randomBytes(SECRET_BYTES), previous };
  }
  return { current: developmentSecret(config.DATA_DIR, logger), previous };
}

function developmentSecret(dataDir: string, logger: Logger): Buffer {
  const file = path.join(dataDir, SESSION_SECRET_FILE);
  mkdirSync(dataDir, { recursive: true });
  // Written aside and linked into place: the file appears whole or not at all, and an instance
  // starting at the same moment keeps the one that got there first.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${randomBytes(SECRET_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(draft, file);
    logger.info({ file }, 'SESSION_SECRET is not set: generated one for development and kept it in %s (set SESSION_SECRET in production)', file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    logger.info({ file }, 'SESSION_SECRET is not set: using the development secret kept in %s', file);
  } finally {
    unlinkSync(draft);
  }
  const secret = decodeSessionSecret(readFileSync(file, 'utf8'));
  if (!secret) throw new Error(`${file} does not hold a session secret (32 bytes as hex or base64); delete it to have a new one generated`);
  return secret;
}
