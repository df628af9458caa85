import { hash, randomBytes } from 'node:crypto';

const SESSION_TOKEN_PREFIX = 'rcs_';
const SESSION_TOKEN = /^rcs_[A-Za-z0-9_-]{43}$/;

/** A 256-bit random bearer token; the prefix makes leaked tokens easy to scan for. */
export function newSessionToken(): string {
  return SESSION_TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function isSessionTokenShaped(token: string): boolean {
  return SESSION_TOKEN.test(token);
}

/** Lower-case Crockford base32: no `_`, so a token's prefix ends where its first `_` after `rk_` is. */
const PREFIX_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const API_KEY_PREFIX_LENGTH = 12;
const API_KEY_TOKEN = /^rk_([0-9a-hjkmnp-tv-z]{12})_[A-Za-z0-9_-]{43}$/;

/**
 * A new API key token, `rk_<prefix>_<secret>`: the prefix (60 random bits) names the key in lists
 * and logs, the secret is 256 random bits. Returned to its owner once; only its hash is kept.
 */
export function newApiKeyToken(): { token: string; prefix: string } {
  const bytes = randomBytes(API_KEY_PREFIX_LENGTH);
  let prefix = '';
  for (const byte of bytes) prefix += PREFIX_ALPHABET[byte & 31];
  return { token: `rk_${prefix}_${randomBytes(32).toString('base64url')}`, prefix };
}

/** The prefix of a token shaped like an API key; null for anything else. */
export function apiKeyPrefixOf(token: string): string | null {
  return API_KEY_TOKEN.exec(token)?.[1] ?? null;
}

/** Only this digest is stored, so a database leak yields no usable token. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

/** The token of an `Authorization: Bearer <token>` header; undefined when there is no header. */
export function bearerToken(header: string | null): string | null | undefined {
  if (header === null) return undefined;
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}
