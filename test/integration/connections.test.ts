import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const PAGE = `query ($id: ID!, $after: String) { context(id: $id) { memories(first: 1, after: $after) { edges { cursor node { id content } } pageInfo { endCursor } } } }`;
const SEARCH = `query ($id: ID!, $q: String!) { searchMemories(input: { contextId: $id, query: $q }) { edges { node { id content } } } }`;
const CONTEXTS = `{ contexts(first: 50) { edges { node { id name } } } }`;
const ADD = `mutation ($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }`;
const CREATE = `mutation ($n: String!) { createContext(input: { name: $n }) { context { id } } }`;

describe.each(deployments())('connections without ids ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let ann: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl } : {});
    [ann, bob] = [await t.newUser('Ann'), await t.newUser('Bob')];
  });
  afterAll(() => t.close());

  /** Whether the query is answered from the response cache: lists and searches always read PostgreSQL otherwise. */
  const cached = async (user: TestUser, query: string, variables: Record<string, unknown> = {}) => {
    let result: Awaited<ReturnType<TestApp['gql']>> | undefined;
    const statements = await t.countStatements(async () => {
      result = await t.gql(query, variables, { token: user.token });
    });
    expect(result!.errors).toBeUndefined();
    return statements.length === 0;
  };
  /** Runs the query until it is cached (the first run stores it), and checks that it is. */
  const warm = async (user: TestUser, query: string, variables: Record<string, unknown> = {}) => {
    await t.gql(query, variables, { token: user.token });
    expect(await cached(user, query, variables)).toBe(true);
  };

  it('have no id field: asking for one is a validation error', async () => {
    const { contextId } = await t.newMemories(ann, ['one']);
    for (const query of [
      '{ contexts { id } }',
      `{ context(id: "${contextId}") { memories { id } } }`,
      `{ searchMemories(input: { contextId: "${contextId}", query: "one" }) { id } }`,
    ]) {
      const result = await t.gql(query, {}, { token: ann.token });
      expect(result.errors?.[0]?.message).toMatch(/Cannot query field "id" on type "(Context|Memory|MemorySearch)Connection"/);
    }
  });

  it('keep two pages apart, and a new memory invalidates every cached page and search of its context, and nothing of another context', async () => {
    const { contextId: mine } = await t.newMemories(ann, ['hotel in kyoto', 'food in osaka']);
    const { contextId: other } = await t.newMemories(ann, ['hotel in oslo']);
    const first = await t.gql(PAGE, { id: mine }, { token: ann.token });
    const after = first.data.context.memories.pageInfo.endCursor;
    const second = await t.gql(PAGE, { id: mine, after }, { token: ann.token });
    expect(first.data.context.memories.edges.map((e: any) => e.node.content)).toEqual(['food in osaka']);
    expect(second.data.context.memories.edges.map((e: any) => e.node.content)).toEqual(['hotel in kyoto']);

    const reads: Array<[string, Record<string, unknown>]> = [
      [PAGE, { id: mine }],
      [PAGE, { id: mine, after }],
      [SEARCH, { id: mine, q: 'hotel' }],
      [SEARCH, { id: mine, q: 'food' }],
      [PAGE, { id: other }],
      [SEARCH, { id: other, q: 'hotel' }],
    ];
    for (const [query, variables] of reads) await warm(ann, query, variables);

    await t.gql(ADD, { id: mine, content: 'hotel near the station' }, { token: ann.token });
    const stillCached = [];
    for (const [query, variables] of reads) stillCached.push(await cached(ann, query, variables));
    expect(stillCached).toEqual([false, false, false, false, true, true]);
    // Read again after the write, they are cached anew.
    for (const [query, variables] of reads.slice(0, 4)) expect(await cached(ann, query, variables)).toBe(true);
    const found = await t.gql(SEARCH, { id: mine, q: 'hotel' }, { token: ann.token });
    expect(found.data.searchMemories.edges.map((e: any) => e.node.content).sort()).toEqual(['hotel in kyoto', 'hotel near the station']);
  });

  it("a new context invalidates the viewer's list of contexts, not another user's", async () => {
    await t.newMemories(bob, ['bob was here']);
    await warm(ann, CONTEXTS);
    await warm(bob, CONTEXTS);
    const created = await t.gql(CREATE, { n: 'Fresh' }, { token: ann.token });
    expect(await cached(ann, CONTEXTS)).toBe(false);
    expect(await cached(bob, CONTEXTS)).toBe(true);
    const names = (await t.gql(CONTEXTS, {}, { token: ann.token })).data.contexts.edges.map((e: any) => e.node.id);
    expect(names[0]).toBe(created.data.createContext.context.id);
  });

  it('a deleted context invalidates the list it was in', async () => {
    const { contextId } = await t.newMemories(bob, ['short-lived']);
    await warm(bob, CONTEXTS);
    await t.gql('mutation ($id: ID!) { deleteContext(input: { id: $id }) { deletedContextId } }', { id: contextId }, { token: bob.token });
    const ids = (await t.gql(CONTEXTS, {}, { token: bob.token })).data.contexts.edges.map((e: any) => e.node.id);
    expect(ids).not.toContain(contextId);
  });

  it('give a relevance score an id of its own: not its memory\'s, and different per context', async () => {
    const { contextId, memoryIds } = await t.newMemories(ann, ['tea in kyoto']);
    const { contextId: other } = await t.newMemories(ann, ['unrelated']);
    const result = await t.gql(
      'query ($m: ID!, $a: ID!, $b: ID!) { memory(id: $m) { id a: relevance(contextId: $a) { id } b: relevance(contextId: $b) { id } } }',
      { m: memoryIds[0], a: contextId, b: other },
      { token: ann.token },
    );
    const { id, a, b } = result.data.memory;
    expect(new Set([id, a.id, b.id, contextId, other]).size).toBe(5);
  });
});
