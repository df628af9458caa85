import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeSessionSecret, resolveSessionSecrets, SESSION_SECRET_FILE } from '../../src/auth/session-secret.js';
import { loadConfig } from '../../src/config.js';

/** A logger whose lines are kept as parsed objects. */
function capturingLogger() {
  const lines: Array<{ msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'recall-secret-'));
  dirs.push(dir);
  return dir;
};

describe('decodeSessionSecret', () => {
  const bytes = randomBytes(32);
  it('takes 32 bytes as hex, base64 or base64url, with or without padding', () => {
    expect(decodeSessionSecret(bytes.toString('hex'))).toEqual(bytes);
    expect(decodeSessionSecret(bytes.toString('hex').toUpperCase())).toEqual(bytes);
    expect(decodeSessionSecret(bytes.toString('base64'))).toEqual(bytes);
    expect(decodeSessionSecret(bytes.toString('base64url'))).toEqual(bytes);
    expect(decodeSessionSecret(` ${bytes.toString('base64')}\n`)).toEqual(bytes);
  });

  it('refuses other lengths and other text', () => {
    expect(decodeSessionSecret(randomBytes(16).toString('hex'))).toBeNull();
    expect(decodeSessionSecret(randomBytes(31).toString('base64'))).toBeNull();
    expect(decodeSessionSecret(randomBytes(33).toString('base64'))).toBeNull();
    expect(decodeSessionSecret('correct horse battery staple, thirty-two+')).toBeNull();
    expect(decodeSessionSecret('')).toBeNull();
  });
});

describe('SESSION_SECRET in the config', () => {
  it('stops a production start without it, with a message naming it', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/SESSION_SECRET: is required when NODE_ENV=production/);
    expect(loadConfig({ NODE_ENV: 'production', SESSION_SECRET: randomBytes(32).toString('hex') }).NODE_ENV).toBe('production');
  });

  it('refuses a secret of the wrong length without echoing it', () => {
    const short = randomBytes(16).toString('hex');
    let message = '';
    try {
      loadConfig({ SESSION_SECRET: short, SESSION_SECRET_PREVIOUS: `${randomBytes(32).toString('hex')},tooshort` });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/SESSION_SECRET: must be 32 bytes, as 64 hex digits or 44 base64 characters/);
    expect(message).toMatch(/SESSION_SECRET_PREVIOUS\.1: must be 32 bytes/);
    expect(message).not.toContain(short);
    expect(message).not.toContain('tooshort');
  });

  it('reads SESSION_SECRET_PREVIOUS as a comma-separated list', () => {
    const [a, b] = [randomBytes(32).toString('base64'), randomBytes(32).toString('hex')];
    expect(loadConfig({ SESSION_SECRET_PREVIOUS: ` ${a} , ${b} ` }).SESSION_SECRET_PREVIOUS).toEqual([a, b]);
    expect(loadConfig({}).SESSION_SECRET_PREVIOUS).toEqual([]);
  });
});

describe('resolveSessionSecrets', () => {
  it('uses SESSION_SECRET and the previous ones as given, writing nothing', () => {
    const dir = tempDir();
    const [current, previous] = [randomBytes(32), randomBytes(32)];
    const config = loadConfig({ DATA_DIR: dir, SESSION_SECRET: current.toString('base64'), SESSION_SECRET_PREVIOUS: previous.toString('hex') });
    expect(resolveSessionSecrets(config, pino({ level: 'silent' }))).toEqual({ current, previous: [previous] });
    expect(() => statSync(path.join(dir, SESSION_SECRET_FILE))).toThrow();
  });

  it('generates a development secret once, in a 0600 file under DATA_DIR, and reuses it, never logging it', () => {
    const dir = path.join(tempDir(), 'nested');
    const config = loadConfig({ DATA_DIR: dir });
    const first = capturingLogger();
    const { current } = resolveSessionSecrets(config, first.logger);
    const file = path.join(dir, SESSION_SECRET_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(decodeSessionSecret(readFileSync(file, 'utf8'))).toEqual(current);
    expect(first.lines.map((line) => line.msg)).toEqual([expect.stringMatching(/SESSION_SECRET is not set: generated one .* kept it in .*session-secret/)]);

    const second = capturingLogger();
    expect(resolveSessionSecrets(config, second.logger).current).toEqual(current);
    expect(second.lines.map((line) => line.msg)).toEqual([expect.stringMatching(/using the development secret kept in .*session-secret/)]);
    const logged = JSON.stringify([...first.lines, ...second.lines]);
    expect(logged).not.toContain(current.toString('hex'));
    expect(logged).not.toContain(current.toString('base64'));
  });

  it('refuses a development secret file that holds no secret, naming it', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, SESSION_SECRET_FILE), 'hello\n');
    expect(() => resolveSessionSecrets(loadConfig({ DATA_DIR: dir }), pino({ level: 'silent' }))).toThrow(/session-secret does not hold a session secret/);
  });

  it('makes up a secret per process for a memory:// database, writing nothing', () => {
    const dir = tempDir();
    const config = loadConfig({ DATA_DIR: dir, DATABASE_URL: 'memory://' });
    const one = resolveSessionSecrets(config, pino({ level: 'silent' })).current;
    expect(one).toHaveLength(32);
    expect(resolveSessionSecrets(config, pino({ level: 'silent' })).current).not.toEqual(one);
    expect(() => statSync(path.join(dir, SESSION_SECRET_FILE))).toThrow();
  });
});
