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
