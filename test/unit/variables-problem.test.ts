import { describe, expect, it } from 'vitest';
import { variablesProblem } from '../../src/validation.js';

/** A value `depth` lists deep, as text: a client's body, not built by recursion here. */
const nested = (depth: number): unknown => JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`);

describe('variablesProblem', () => {
  it('accepts variables up to the depth limit, objects and lists alike', () => {
    expect(variablesProblem({ m: nested(32) }, 32)).toBeNull();
    expect(variablesProblem({ a: 1, b: 'text', c: null, d: { e: [{ f: true }] } }, 3)).toBeNull();
    expect(variablesProblem(undefined, 32)).toBeNull();
    expect(variablesProblem(null, 32)).toBeNull();
  });

  it('refuses a variable one level deeper than the limit, naming it and the limit', () => {
    const problem = variablesProblem({ ok: 1, deep: { a: { b: { c: {} } } } }, 3);
    expect(problem).toBe('Variable "$deep" is nested deeper than 3 levels (MAX_VARIABLE_DEPTH).');
  });

  it('walks 100,000 levels without overflowing the stack, and stops at the limit', () => {
    expect(variablesProblem({ m: nested(100_000) }, 32)).toMatch(/"\$m" is nested deeper than 32/);
  });

  it('refuses NUL in any string or key, however deep within the limit', () => {
    expect(variablesProblem({ m: [[{ text: 'a\u0000b' }]] }, 32)).toMatch(/NUL/);
    expect(variablesProblem({ m: { 'k\u0000': 1 } }, 32)).toMatch(/NUL/);
    expect(variablesProblem({ 'v\u0000': 1 }, 32)).toMatch(/NUL/);
  });
});
