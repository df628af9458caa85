import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/auth/passwords.js';
import { bearerToken, hashToken, isSessionTokenShaped, newSessionToken } from '../../src/auth/tokens.js';
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
