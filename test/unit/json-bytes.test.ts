import { describe, expect, it } from 'vitest';
import { jsonBytesBound } from '../../src/json-bytes.js';

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('jsonBytesBound', () => {
  it('never falls below the bytes JSON.stringify makes', () => {
    const values: unknown[] = [
      { data: { context: { memories: { edges: [{ node: { id: 'mem_1', content: 'naïve café 🍝', score: -2.2250738585072014e-308 } }] } } } },
      ['\u0000\u001f"\\', '\ud800', 'é'.repeat(50), 1e21, -0.000001, true, false, null, undefined],
      { skipped: undefined, nested: [[[]], {}], [Symbol('hidden')]: 'x' },
      Object.assign(Object.create(null) as object, { made: 'by graphql-js' }),
      '\u2028\u2029'.repeat(10),
    ];
    for (const value of values) expect(jsonBytesBound(value, Number.MAX_SAFE_INTEGER)).toBeGreaterThanOrEqual(bytes(value));
  });

  it('gives up past the limit, and on values it does not size', () => {
    expect(jsonBytesBound({ text: 'x'.repeat(100) }, 100)).toBe(Number.POSITIVE_INFINITY);
    expect(jsonBytesBound({ at: new Date(0) }, 1_000)).toBe(Number.POSITIVE_INFINITY);
    expect(jsonBytesBound({ custom: { toJSON: () => 'x'.repeat(10_000) } }, 1_000)).toBe(Number.POSITIVE_INFINITY);
    expect(jsonBytesBound({ big: 1n }, 1_000)).toBe(Number.POSITIVE_INFINITY);
  });
});
