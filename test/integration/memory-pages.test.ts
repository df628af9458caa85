import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scanUnder } from '../../src/cache/key-scan.js';
import { purge } from '../../src/services/cache-purge.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

/** The benchmark's 20-memory list, with the context's name and each memory's score. */
const LIST = `query ($id: ID!, $first: Int, $after: String) {
  context(id: $id) { memories(first: $first, after: $after) {
    edges { cursor node { id content context { name } relevance(contextId: $id) { score } } }
    pageInfo { hasNextPage endCursor }
  } }
}`;
const FILTERED = `query ($id: ID!) { context(id: $id) { memories(first: 20, filter: { tags: ["keep"] }) { edges { node { id } } } } }`;
const ADD = `mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } errors { code } } }`;
const UPDATE = `mutation ($input: UpdateMemoryInput!) { updateMemory(input: $input) { memory { version } errors { code } } }`;
const DELETE = `mutation ($id: ID!) { deleteMemory(input: { id: $id }) { deletedMemoryId errors { code } } }`;

/** Pages are what is measured here: whole responses would otherwise answer the repeated reads. */
const env = { RESPONSE_CACHE_ENABLED: 'false' };

const newestFirst = (ids: readonly string[]) => [...ids].sort().reverse();

async function seed(t: TestApp, user: TestUser, count: number) {
  return t.newMemories(user, Array.from({ length: count }, (_, i) => `memory ${i}`));
}

const idsOf = (result: { data: any }) => result.data.context.memories.edges.map((edge: { node: { id: string } }) => edge.node.id) as string[];

describe.each(deployments())('cached pages of memories ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl, env } : { env });
    user = await t.newUser();
  });
  afterAll(() => t.close());

  const list = (variables: Record<string, unknown>) => t.gql(LIST, { first: 20, ...variables }, { token: user.token });

  it('answers a warm 20-memory page with its scores without SQL', async () => {
    const { contextId, memoryIds } = await seed(t, user, 25);
    const first = await t.countStatements(() => list({ id: contextId }));
    expect(first.length).toBeGreaterThan(0);
    let again: Awaited<ReturnType<typeof list>> | undefined;
    expect(await t.countStatements(async () => (again = await list({ id: contextId })))).toEqual([]);
    expect(idsOf(again!)).toEqual(newestFirst(memoryIds).slice(0, 20));
    expect(again!.data.context.memories.pageInfo.hasNextPage).toBe(true);
    expect(again!.data.context.memories.edges[0].node.relevance.score).toEqual(expect.any(Number));
  });

  it('keeps cursors right, page after page, before and after a write', async () => {
    const { contextId, memoryIds } = await seed(t, user, 25);
    const sorted = newestFirst(memoryIds);
    const firstPage = await list({ id: contextId, first: 10 });
    const after = firstPage.data.context.memories.pageInfo.endCursor as string;
    const secondPage = await list({ id: contextId, first: 10, after });
    const lastPage = await list({ id: contextId, first: 10, after: secondPage.data.context.memories.pageInfo.endCursor });
    expect([idsOf(firstPage), idsOf(secondPage), idsOf(lastPage)]).toEqual([sorted.slice(0, 10), sorted.slice(10, 20), sorted.slice(20)]);
    expect(lastPage.data.context.memories.pageInfo.hasNextPage).toBe(false);
    expect(await t.countStatements(() => list({ id: contextId, first: 10, after }))).toEqual([]);

    const added = await t.gql(ADD, { input: { contextId, items: [{ content: 'newest' }] } }, { token: user.token });
    const newId = added.data.addMemories.memories[0].id as string;
    expect(idsOf(await list({ id: contextId, first: 10 }))).toEqual([newId, ...sorted.slice(0, 9)]);
    // The old cursor still starts after the same memory.
    expect(idsOf(await list({ id: contextId, first: 10, after }))).toEqual(sorted.slice(10, 20));
  });

  it('stops using a page when one of its memories expires', async () => {
    const created = await t.gql('mutation { createContext(input: { name: "Expiring" }) { context { id } } }', {}, { token: user.token });
    const contextId = created.data.createContext.context.id as string;
    const expiresAt = new Date(t.clock.now().getTime() + 60_000).toISOString();
    const added = await t.gql(
      ADD,
      { input: { contextId, items: [{ content: 'lasting' }, { content: 'fleeting', expiresAt }] } },
      { token: user.token },
    );
    const [lasting, fleeting] = added.data.addMemories.memories.map((memory: { id: string }) => memory.id) as string[];
    expect(idsOf(await list({ id: contextId }))).toEqual(newestFirst([lasting!, fleeting!]));
    expect(await t.countStatements(() => list({ id: contextId }))).toEqual([]);
    t.clock.advance(61_000);
    expect(idsOf(await list({ id: contextId }))).toEqual([lasting]);
  });

  it('drops pages with a purge of the memory kind, from every tier', async () => {
    const { contextId } = await seed(t, user, 3);
    await list({ id: contextId });
    const pageReads = (statements: string[]) => statements.filter((sql) => sql.includes('ORDER BY m.id DESC LIMIT')).length;
    expect(pageReads(await t.countStatements(() => list({ id: contextId })))).toBe(0);
    // Pages in Redis (none without it: the in-process tier is emptied by the purge's change).
    const pageKeys = async () => {
      let count = 0;
      if (t.cache.redis) for await (const batch of scanUnder(t.cache.redis, t.cache.keys.prefix, 'memory-page:*')) count += batch.length;
      return count;
    };
    expect((await pageKeys()) > 0).toBe(Boolean(redisUrl));
    // As the CLI's purge and purgeCache (admins only) call it.
    await purge(t.app.deps, { kind: 'memory' }, user.id);
    expect(await pageKeys()).toBe(0);
    expect(pageReads(await t.countStatements(() => list({ id: contextId })))).toBe(1);
  });
});

describe.runIf(inject('redisUrl'))('cached pages on two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let user: TestUser;

  beforeAll(async () => {
    const shared = { redisUrl: inject('redisUrl')!, env: { ...env, REDIS_KEY_PREFIX: `recall-test:${Math.random().toString(36).slice(2)}:` } };
    a = await createTestApp(backends().at(-1)!, shared);
    b = await createTestApp(backends().at(-1)!, { ...shared, database: a.database });
    user = await a.newUser();
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  /** Reads the page on B until it is warm (0 SQL), then hands back what B shows. */
  const warmOnB = async (query: string, contextId: string) => {
    await b.gql(query, { id: contextId, first: 20 }, { token: user.token });
    // The instances share a database and its statement log: A's acknowledgment of its own write
    // (deleting its outbox rows, after its reply) may land meanwhile, and is not B's.
    const onBOnly = (statements: string[]) => statements.filter((sql) => !sql.includes('cache_outbox'));
    expect(onBOnly(await b.countStatements(() => b.gql(query, { id: contextId, first: 20 }, { token: user.token })))).toEqual([]);
  };
  const onB = async (query: string, contextId: string) => idsOf(await b.gql(query, { id: contextId, first: 20 }, { token: user.token }));

  it("shows A's add, update and delete on B's very next read", async () => {
    const { contextId, memoryIds } = await seed(a, user, 5);
    let expected = newestFirst(memoryIds);
    await warmOnB(LIST, contextId);

    const added = await a.gql(ADD, { input: { contextId, items: [{ content: 'added on A' }] } }, { token: user.token });
    expected = [added.data.addMemories.memories[0].id, ...expected];
    expect(await onB(LIST, contextId)).toEqual(expected);

    await warmOnB(LIST, contextId);
    const updated = await a.gql(UPDATE, { input: { id: expected[1], content: 'updated on A' } }, { token: user.token });
    expect(updated.data.updateMemory.errors).toEqual([]);
    const page = await b.gql(LIST, { id: contextId, first: 20 }, { token: user.token });
    expect(page.data.context.memories.edges[1].node.content).toBe('updated on A');

    await warmOnB(LIST, contextId);
    await a.gql(DELETE, { id: expected[2] }, { token: user.token });
    expect(await onB(LIST, contextId)).toEqual(expected.filter((id) => id !== expected[2]));
  });

  it("moves a memory in or out of B's filtered page when A changes what the filter reads", async () => {
    const { contextId, memoryIds } = await seed(a, user, 3);
    await warmOnB(FILTERED, contextId);
    expect(await onB(FILTERED, contextId)).toEqual([]);
    await a.gql(UPDATE, { input: { id: memoryIds[0], tags: ['keep'] } }, { token: user.token });
    expect(await onB(FILTERED, contextId)).toEqual([memoryIds[0]]);
    await warmOnB(FILTERED, contextId);
    await a.gql(UPDATE, { input: { id: memoryIds[0], tags: ['drop'] } }, { token: user.token });
    expect(await onB(FILTERED, contextId)).toEqual([]);
  });

  it('raises the list sequence once per write, whatever the writes race with', async () => {
    const { contextId } = await seed(a, user, 1);
    const listVersion = async () =>
      Number((await a.database.db.query<{ v: string }>('SELECT list_version AS v FROM contexts WHERE id = $1', [contextId]))[0]!.v);
    const before = await listVersion();
    const writes = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? a : b).gql(ADD, { input: { contextId, items: [{ content: `racing ${i}` }] } }, { token: user.token }),
    );
    for (const result of await Promise.all(writes)) expect(result.data.addMemories.errors).toEqual([]);
    expect((await listVersion()) - before).toBe(10);
    expect(await onB(LIST, contextId)).toHaveLength(11);
  });
});
