import { readFileSync } from 'node:fs';
import { buildSchema, getNamedType, getNullableType, isCompositeType, isListType, isObjectType, parse } from 'graphql';
import { createSchema } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { resolvers } from '../../resolvers/index.js';
import { parseLimitSetting, parseWindow, readFieldLimits } from '../../src/admission/field-limits.js';
import { operationCost } from '../../src/admission/operation-cost.js';
import { loadTypeDefs } from '../../src/app.js';

const schema = createSchema({ typeDefs: loadTypeDefs(), resolvers });
const limits = readFieldLimits(schema);
const OPTIONS = { defaultPageSize: 20, maxPageSize: 100 };
const cost = (query: string, variables: Record<string, unknown> = {}, operationName?: string) =>
  operationCost(schema, parse(query), operationName, variables, limits, OPTIONS);

describe('operation cost', () => {
  it('costs a plain operation 1 point, as GitHub does', () => {
    expect(cost('{ viewer { id email } }')).toMatchObject({ nodes: 1, points: 1 });
    // context 1, connection 1, 20 memories with their content, 20 contexts, 20 scores.
    const list = cost('query ($id: ID!) { context(id: $id) { memories(first: 20) { edges { node { id content context { name } relevance(contextId: $id) { score } } } } } }', { id: 'ctx_1' });
    expect(list).toMatchObject({ nodes: 82, points: 1 });
    expect(cost('query ($id: ID!) { context(id: $id) { memories(first: 20) { edges { node { id content } } } } }', { id: 'ctx_1' })).toMatchObject({ nodes: 42, points: 1 });
  });

  it('sizes lists by their slicing argument, from variables or literals, and by the page size when left out', () => {
    const page = (first?: number) => cost('query ($first: Int) { contexts(first: $first) { edges { node { id } } } }', first === undefined ? {} : { first });
    expect(page(50).nodes).toBe(51);
    expect(page().nodes).toBe(21);
    // Beyond the largest page the field refuses it; it is counted at that page size.
    expect(page(10_000).nodes).toBe(101);
    expect(page(-5).nodes).toBe(1);
    expect(cost('{ searchMemories(input: { contextId: "c", query: "q", first: 7 }) { edges { node { id } } } }').nodes).toBe(700 + 7);
  });

  it('sizes nodes(ids) by the number of ids, each counted with every fragment it may match', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `mem_${i}`);
    const query = 'query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Memory { content } ... on Context { name } } }';
    expect(cost(query, { ids: ids(3) }).nodes).toBe(3 * (1 + 1));
    expect(cost(query, { ids: ids(50) }).nodes).toBe(50 * 2);
    expect(cost('{ nodes(ids: ["a", "b"]) { id } }').nodes).toBe(2);
    // Beyond the most ids it takes, the field refuses them; counted at that size.
    expect(cost(query, { ids: ids(500) }).nodes).toBe(100 * 2);
    expect(cost('{ node(id: "a") { id ... on Memory { content } } }').nodes).toBe(2);
  });

  it('multiplies nested lists and aliases: the stall query of the abuse report is far over any limit', () => {
    const one = 'contexts(first: 100) { edges { node { memories(first: 100) { edges { node { content history(first: 100) { content previousContent } } } } } } }';
    const aliased = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: ${one}`).join(' ')} }`;
    const { points } = cost(aliased);
    // Per alias: 1 + 100 contexts + 100 × (1 + 100 memories + 100 contents + 100 × 100 events × 3).
    expect(points).toBe(Math.ceil((30 * (1 + 100 + 100 * (1 + 100 + 100 + 100 * 100 * 3))) / 100));
  });

  it('counts fragments (inline and named) and survives a cyclic one, which validation refuses later', () => {
    expect(cost('{ contexts(first: 10) { ...C } } fragment C on ContextConnection { edges { node { id ... on Context { memories(first: 5) { edges { node { id } } } } } } }').nodes).toBe(1 + 10 + 10 * (1 + 5));
    expect(cost('{ viewer { ...A } } fragment A on User { ...B } fragment B on User { ...A }').points).toBe(1);
  });

  it('walks a fragment spread many times once: the cost of doubling fragments is linear to compute, and counted in full', () => {
    const levels = 40;
    const fragments = Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ');
    // Walked once per spread, 2^40 would never finish: the test's timeout is the check, not a stopwatch.
    const doubled = cost(`query { ...F0 } ${fragments} fragment F${levels} on Query { contexts(first: 1) { edges { node { id } } } }`);
    expect(doubled.nodes).toBe(2 ** levels * 2);
    // And a limited field spread that way counts every call.
    const logins = cost(`mutation { ...L0 } ${Array.from({ length: 10 }, (_, i) => `fragment L${i} on Mutation { ...L${i + 1} ...L${i + 1} }`).join(' ')} fragment L10 on Mutation { login(input: { email: "a@example.com", password: "x" }) { token } }`);
    expect(logins.limitedCalls).toEqual([expect.objectContaining({ count: 1024 })]);
    expect(logins.onlyLimitedRoots).toBe(true);
  });

  it('costs the introspection of a whole schema a point per alias', () => {
    expect(cost('{ __schema { types { name } } }').points).toBe(1);
    expect(cost(`{ ${Array.from({ length: 30 }, (_, i) => `s${i}: __schema { types { name fields { name } } }`).join(' ')} }`).points).toBe(30);
  });

  it('counts a call with arrayLengthField as one call per item of that list', () => {
    const sdl = `${readFileSync(new URL('../../schema/directives.graphql', import.meta.url), 'utf8')}
      type Query { ok: Boolean }
      input Batch { items: [String!]! }
      type Mutation { send(input: Batch!): Boolean @rateLimit(max: 10, window: "1m", arrayLengthField: "input.items") }`;
    const tiny = buildSchema(sdl);
    const counted = operationCost(tiny, parse('mutation { a: send(input: { items: ["x", "y", "z"] }) b: send(input: { items: ["w"] }) }'), null, {}, readFieldLimits(tiny), OPTIONS);
    expect(counted.limitedCalls.map((call) => call.count)).toEqual([3 + 1]);
  });

  it('picks the named operation, and costs an unknown one (or no document) one flat point', () => {
    const document = 'query A { viewer { id } } query B { contexts(first: 100) { edges { node { id } } } }';
    expect(cost(document, {}, 'B').nodes).toBe(101);
    expect(cost(document, {}, 'C')).toMatchObject({ nodes: 0, points: 1 });
    expect(operationCost(schema, null, null, null, limits, OPTIONS)).toMatchObject({ points: 1, limitedCalls: [] });
  });

  it('counts every call of a limited field, grouped by the values of its identity arguments', () => {
    const login = (alias: string, email: string) => `${alias}: login(input: { email: "${email}", password: "x" }) { token }`;
    const same = cost(`mutation { ${Array.from({ length: 30 }, (_, i) => login(`a${i}`, 'Ann@Example.com ')).join(' ')} ${login('b', 'ann@example.com')} }`);
    expect(same.limitedCalls).toHaveLength(1);
    expect(same.limitedCalls[0]).toMatchObject({ count: 31 });
    expect(same.onlyLimitedRoots).toBe(true);

    const many = cost(`mutation { ${login('a', 'a@example.com')} ${login('b', 'b@example.com')} }`);
    expect(many.limitedCalls.map((call) => call.count)).toEqual([1, 1]);

    const mixed = cost('{ viewer { id } a: searchMemories(input: { contextId: "c", query: "q" }) { pageInfo { hasNextPage } } b: searchMemories(input: { contextId: "c", query: "r" }) { pageInfo { hasNextPage } } }');
    expect(mixed.limitedCalls).toEqual([expect.objectContaining({ count: 2 })]);
    expect(mixed.onlyLimitedRoots).toBe(false);
  });

  it('declares a size for every list of objects that can grow', () => {
    const unsized: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__')) continue;
      for (const field of Object.values(type.getFields())) {
        const listed = isListType(getNullableType(field.type)) && isCompositeType(getNamedType(field.type));
        const sized = field.astNode?.directives?.some((directive) => directive.name.value === 'listSize');
        // A connection's edges are sized by the connection's slicing argument.
        if (listed && !sized && field.name !== 'edges') unsized.push(`${type.name}.${field.name}`);
      }
    }
    // Errors and the entities of one change are bounded by the request that made them; cacheStats'
    // lists by the kinds and tiers there are and by its sample of top keys (and admins spend no budget).
    expect(unsized).toContain('CacheInvalidation.entities');
    const bounded = (coordinate: string) => coordinate.endsWith('.errors') || coordinate === 'CacheInvalidation.entities' || coordinate.startsWith('CacheStats.');
    expect(unsized.filter((coordinate) => !bounded(coordinate))).toEqual([]);
  });
});

describe('field limits', () => {
  it('are read from the SDL, repeatable, with their identity arguments', () => {
    expect(limits.get('Mutation.login')).toEqual([
      expect.objectContaining({ max: 5, windowMs: 15 * 60_000, identityArgs: ['input.email'], per: 'ADDRESS' }),
      expect.objectContaining({ max: 20, windowMs: 15 * 60_000, identityArgs: [], per: 'ADDRESS' }),
    ]);
    expect(limits.get('Query.searchMemories')).toEqual([expect.objectContaining({ max: 30, windowMs: 60_000, per: 'VIEWER' })]);
    expect(limits.get('Mutation.signUp')).toEqual([expect.objectContaining({ max: 5, windowMs: 3_600_000, per: 'ADDRESS' })]);
    expect(limits.get('Mutation.addMemories')).toEqual([expect.objectContaining({ max: 20, windowMs: 60_000, per: 'VIEWER' })]);
  });

  it('take their settings from the environment', () => {
    const set = readFieldLimits(schema, [{ field: 'Mutation.login', index: 1, value: '7/2h' }]);
    expect(set.get('Mutation.login')![1]).toMatchObject({ max: 7, windowMs: 7_200_000 });
    expect(() => readFieldLimits(schema, [{ field: 'Query.viewer', index: 0, value: '1/1m' }])).toThrow(/no @rateLimit/);
  });

  it('parse windows and settings as @envelop/rate-limiter writes them', () => {
    expect([parseWindow('10s'), parseWindow('15m'), parseWindow('1h'), parseWindow('2d'), parseWindow('30')]).toEqual([10_000, 900_000, 3_600_000, 172_800_000, 30_000]);
    expect(() => parseWindow('soon')).toThrow(/not a rate-limit window/);
    expect(parseLimitSetting('5/15m')).toEqual({ max: 5, windowMs: 900_000 });
    expect(() => parseLimitSetting('5')).toThrow(/max\/window/);
  });
});

describe('operation cost with variables', () => {
  it('counts a variable left out at its default, as execution will use it', () => {
    expect(cost('query ($n: Int = 100) { contexts(first: $n) { edges { node { id } } } }').nodes).toBe(101);
    // Variables that do not coerce cannot run: a flat point, and yoga says why.
    expect(cost('query ($n: Int) { contexts(first: $n) { edges { node { id } } } }', { n: 'many' })).toMatchObject({ nodes: 0, points: 1 });
  });
});
