/**
 * The operations issue 9's benchmark costs and runs: the cached-hit list, a few everyday ones,
 * the issue's stall query, and the heaviest a FREE user may run (near MAX_OPERATION_COST).
 * `$id` is a context id and `$memory` a memory id wherever an operation takes them.
 */
import { LIST_QUERY } from './cached-hit-query.js';

export interface BenchOperation {
  name: string;
  query: string;
  operationName?: string;
}

/** A selection repeated under `count` aliases (a0, a1, …). */
export const aliased = (count: number, field: string): string =>
  Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ');

const STALL_FIELD =
  'contexts(first: 100) { edges { node { memories(first: 100) { edges { node { content history(first: 100) { content previousContent } } } } } } }';

/** The stall query: 30 aliases of every context's 100 memories with 100 history events each. */
export const STALL_QUERY = `query Stall { ${aliased(30, STALL_FIELD)} }`;

/** A page of 100 memories with the content of their last `n` history events. */
export const historyPage = (n: number, withPrevious = true): string =>
  `query History($id: ID!) { context(id: $id) { memories(first: 100) { edges { node { id content history(first: ${n}) { content${withPrevious ? ' previousContent' : ''} } } } } } }`;

/** `count` pages of 100 memories, each after a cursor given in `$after<i>`. */
export const pages = (count: number): string =>
  `query Pages($id: ID!, ${Array.from({ length: count }, (_, i) => `$after${i}: String`).join(', ')}) { ${Array.from(
    { length: count },
    (_, i) => `p${i}: context(id: $id) { memories(first: 100, after: $after${i}) { edges { cursor node { id content } } } }`,
  ).join(' ')} }`;

/** 100 memories, each with its metadata under `count` aliases (scalars weigh 0). */
export const metadataPage = (count: number): string =>
  `query Metadata($id: ID!) { context(id: $id) { memories(first: 100) { edges { node { id ${aliased(count, 'metadata')} } } } } }`;

/** Fragments that each spread the next twice: a document of a few hundred tokens that expands to 2^levels spreads. */
export const doublingFragments = (levels: number): string =>
  `query Fragments($id: ID!) { context(id: $id) { memories(first: 100) { edges { node { ...F0 } } } } } ${Array.from({ length: levels }, (_, i) =>
    i === levels - 1 ? `fragment F${i} on Memory { id content }` : `fragment F${i} on Memory { ...F${i + 1} ...F${i + 1} }`,
  ).join(' ')}`;

export const EVERYDAY: BenchOperation[] = [
  { name: 'the 20-memory list (cached-hit query)', query: LIST_QUERY, operationName: 'List' },
  { name: 'one memory', query: 'query One($memory: ID!) { memory(id: $memory) { id content kind tags importance } }' },
  { name: 'viewer', query: 'query Me { viewer { id email tier } }' },
  { name: 'contexts, first 20, names', query: 'query Contexts { contexts(first: 20) { edges { node { id name } } pageInfo { hasNextPage endCursor } } }' },
  {
    name: 'searchMemories, first 20, with content',
    query: 'query Search($id: ID!) { searchMemories(input: { contextId: $id, query: "pasta sauce", first: 20 }) { edges { score node { id content } } } }',
  },
  { name: 'a page of 100 memories with content', query: 'query Page($id: ID!) { context(id: $id) { memories(first: 100) { edges { node { id content } } } } }' },
  { name: '100 memories, history(first: 20) { content }', query: historyPage(20, false) },
  { name: '100 memories, history(first: 20) { content previousContent }', query: historyPage(20) },
  {
    name: 'login',
    query: 'mutation Login { login(input: { email: "a@example.com", password: "secret password" }) { token } }',
  },
  { name: '30 aliased logins', query: `mutation Logins { ${aliased(30, 'login(input: { email: "a@example.com", password: "secret password" }) { token }')} }` },
  { name: '100 memories through 20 levels of doubling fragments (2^20 spreads when expanded)', query: doublingFragments(20) },
  { name: "the issue's stall query (30 aliases)", query: STALL_QUERY },
];
