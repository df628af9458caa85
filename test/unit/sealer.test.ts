import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../src/cache/sealer.js';

const secretA = randomBytes(32);
const secretB = randomBytes(32);
const KEY = 'recall:session:abc';

/** The sealed value with one byte of its decoded form changed. */
function flipByte(sealed: string, at: number): string {
  const bytes = Buffer.from(sealed, 'base64url');
  bytes[at]! ^= 0x01;
  return bytes.toString('base64url');
}

describe('createSealer', () => {
  const sealer = createSealer({ current: secretA, previous: [] });

  it('opens what it sealed, under the same key only', () => {
    const sealed = sealer.seal('{"email":"a@example.com"}', KEY);
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('example');
    expect(sealer.open(sealed, KEY)).toBe('{"email":"a@example.com"}');
    expect(sealer.open(sealed, 'recall:session:abd')).toBeNull();
  });

  it('uses a fresh IV for each seal', () => {
    const one = Buffer.from(sealer.seal('same', KEY), 'base64url');
    const two = Buffer.from(sealer.seal('same', KEY), 'base64url');
    expect(one.subarray(1, 13).equals(two.subarray(1, 13))).toBe(false);
    expect(one.equals(two)).toBe(false);
  });

  it('refuses, without throwing, a changed byte anywhere, a cut value, garbage and the empty string', () => {
    const sealed = sealer.seal('a value long enough to have several bytes of ciphertext', KEY);
    const length = Buffer.from(sealed, 'base64url').length;
    for (let at = 0; at < length; at++) expect(sealer.open(flipByte(sealed, at), KEY)).toBeNull();
    expect(sealer.open(sealed.slice(0, -2), KEY)).toBeNull();
    expect(sealer.open(sealed.slice(0, 20), KEY)).toBeNull();
    expect(sealer.open('not base64 at all!', KEY)).toBeNull();
    expect(sealer.open('', KEY)).toBeNull();
  });

  it('opens values sealed under a previous secret, seals under the current one only', () => {
    const old = createSealer({ current: secretA, previous: [] }).seal('old', KEY);
    const rotated = createSealer({ current: secretB, previous: [secretA] });
    expect(rotated.open(old, KEY)).toBe('old');
    const resealed = rotated.seal('old', KEY);
    expect(createSealer({ current: secretA, previous: [] }).open(resealed, KEY)).toBeNull();
    expect(createSealer({ current: secretB, previous: [] }).open(resealed, KEY)).toBe('old');
  });

  it('refuses a value sealed under a secret it does not know', () => {
    const foreign = createSealer({ current: randomBytes(32), previous: [] }).seal('x', KEY);
    expect(createSealer({ current: secretB, previous: [secretA] }).open(foreign, KEY)).toBeNull();
  });
});
