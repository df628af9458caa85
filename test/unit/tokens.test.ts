import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/auth/passwords.js';
import { apiKeyPrefixOf, bearerToken, hashToken, isSessionTokenShaped, newApiKeyToken, newSessionToken } from '../../src/auth/tokens.js';
import { decodeCursor, encodeCursor } from '../../src/pagination.js';
import { z } from 'zod';

describe('session tokens', () => {
  it('are 256 random bits behind a prefix, and differ every time', () => {
    const token = newSessionToken();
    expect(isSessionTokenShaped(token)).toBe(true);
    expect(Buffer.from(token.slice(4), 'base64url')).toHaveLength(32);
    expect(newSessionToken()).not.toBe(token);
  });

  it('hash to a stable sha256 hex digest', () => {
    expect(hashToken('rcs_x')).toBe(hashToken('rcs_x'));
    expect(hashToken('rcs_x')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('are read from a Bearer header only', () => {
    expect(bearerToken(null)).toBeUndefined();
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
  });
});

describe('API key tokens', () => {
  it('are rk_<prefix>_<secret>: a 12-character prefix without "_", then 256 random bits', () => {
    const { token, prefix } = newApiKeyToken();
    expect(token).toMatch(/^rk_[0-9a-z]{12}_[A-Za-z0-9_-]{43}$/);
    expect(apiKeyPrefixOf(token)).toBe(prefix);
    expect(Buffer.from(token.slice(16), 'base64url')).toHaveLength(32);
    expect(newApiKeyToken().prefix).not.toBe(prefix);
  });

  it('are told apart from session tokens and from anything malformed', () => {
    expect(apiKeyPrefixOf(newSessionToken())).toBeNull();
    expect(isSessionTokenShaped(newApiKeyToken().token)).toBe(false);
    const { token } = newApiKeyToken();
    expect(apiKeyPrefixOf(token.slice(0, -1))).toBeNull();
    expect(apiKeyPrefixOf(token.replace('rk_', 'rk_x'))).toBeNull();
  });
});

describe('passwords', () => {
  it('verify only the password they were made from', async () => {
    const hash = await hashPassword('s3cret passphrase');
    expect(await verifyPassword('s3cret passphrase', hash)).toBe(true);
    expect(await verifyPassword('s3cret passphrasE', hash)).toBe(false);
    expect(await verifyPassword('s3cret passphrase', 'md5$abc')).toBe(false);
    expect(await hashPassword('s3cret passphrase')).not.toBe(hash);
  });
});

describe('cursors', () => {
  it('round-trip and refuse anything else with BAD_USER_INPUT', () => {
    const shape = z.tuple([z.number(), z.string()]);
    expect(decodeCursor(encodeCursor([0.25, 'mem_1']), shape)).toEqual([0.25, 'mem_1']);
    expect(() => decodeCursor('%%%', shape)).toThrow(/not a cursor/);
    expect(() => decodeCursor(encodeCursor(['x', 'y']), shape)).toThrow(/not a cursor/);
  });
});
