import { describe, expect, it } from 'vitest';
import { createIdGenerator } from '../../src/ids.js';

describe('createIdGenerator', () => {
  it('makes prefixed, fixed-length, Crockford base32 ids', () => {
    const id = createIdGenerator(() => Date.now())('mem');
    expect(id).toMatch(/^mem_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it('never goes backwards, within a millisecond or when the clock steps back', () => {
    let now = 1_700_000_000_000;
    const next = createIdGenerator(() => now);
    const ids: string[] = [];
    for (let i = 0; i < 1000; i++) ids.push(next('ctx'));
    now -= 5_000;
    for (let i = 0; i < 10; i++) ids.push(next('ctx'));
    now += 60_000;
    ids.push(next('ctx'));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('encodes the time in the leading characters', () => {
    const a = createIdGenerator(() => 1_000)('evt');
    const b = createIdGenerator(() => 2_000)('evt');
    expect(a.slice(0, 14) < b.slice(0, 14)).toBe(true);
  });
});
