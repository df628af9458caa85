import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import type { Database } from '../../src/db/database.js';
import { updateMemory } from '../../src/db/repositories/memories.js';
import { withSlowReads } from '../helpers/slow-database.js';
import { backends, deployments } from '../helpers/test-database.js';

const READ = `query ($id: ID!) { memory(id: $id) { id content version context { id name } } }`;
const RELEVANCE = `query ($id: ID!, $contextId: ID!) { memory(id: $id) { relevance(contextId: $contextId) { score computedAt } } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } errors { code } } }`;

/** Embedded mode (PGlite, in-process cache), and Redis in front of the real database when both answer. */
const modes = deployments();

async function seed(t: TestApp, count = 3) {
  const user = await t.newUser();
  const created = await t.gql(
    'mutation { createContext(input: { name: "Cooking", description: "pasta and sauces" }) { context { id } } }',
    {},
    { token: user.token },
  );
  const contextId: string = created.data.createContext.context.id;
  const items = Array.from({ length: count }, (_, i) => ({ content: `pasta recipe ${i}` }));
  const added = await t.gql(
    'mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } } }',
    { input: { contextId, items } },
    { token: user.token },
  );
  return { user, contextId, memoryIds: added.data.addMemories.memories.map((m: { id: string }) => m.id) as string[] };
}

const loads = async (t: TestApp, kind: string) =>
  ((await t.app.registry.getSingleMetric('recall_cache_source_loads_total')?.get())?.values ?? [])
    .filter((value) => value.labels['kind'] === kind)
    .reduce((sum, value) => sum + value.value, 0);

describe.each(modes)('cache-aside ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let user: TestUser;
  let contextId: string;
  let memoryIds: string[];

  beforeAll(async () => {
    // This layer on its own: whole responses would otherwise answer the repeated reads.
    const env = { RESPONSE_CACHE_ENABLED: 'false' };
    t = await createTestApp(backend, redisUrl ? { redisUrl, env } : { env });
    ({ user, contextId, memoryIds } = await seed(t));
  });
  afterAll(() => t.close());

  it('serves a second identical read without SQL', async () => {
    const first = await t.countStatements(() => t.gql(READ, { id: memoryIds[0] }, { token: user.token }));
    expect(first.length).toBeGreaterThan(0);
    const second = await t.countStatements(async () => {
      const result = await t.gql(READ, { id: memoryIds[0] }, { token: user.token });
      expect(result.data.memory).toMatchObject({ id: memoryIds[0], content: 'pasta recipe 0', context: { id: contextId } });
    });
    expect(second).toEqual([]);
  });

  it('shows an update on the very next read', async () => {
    await t.gql(READ, { id: memoryIds[1] }, { token: user.token });
    const updated = await t.gql(UPDATE, { id: memoryIds[1], content: 'pasta recipe, revised' }, { token: user.token });
    expect(updated.data.updateMemory.memory.version).toBe(2);
    const read = await t.gql(READ, { id: memoryIds[1] }, { token: user.token });
    expect(read.data.memory).toMatchObject({ content: 'pasta recipe, revised', version: 2 });
  });

  it('answers deleted and unknown ids from the cache as not found, briefly', async () => {
    const id = memoryIds[2]!;
    await t.gql(READ, { id }, { token: user.token });
    await t.gql('mutation ($id: ID!) { deleteMemory(input: { id: $id }) { errors { code } } }', { id }, { token: user.token });
    const statements = await t.countStatements(async () => {
      expect((await t.gql(READ, { id }, { token: user.token })).data.memory).toBeNull();
    });
    expect(statements).toEqual([]);
    const unknown = id.slice(0, -4) + 'ZZZZ';
    await t.gql(READ, { id: unknown }, { token: user.token });
    expect(await t.countStatements(() => t.gql(READ, { id: unknown }, { token: user.token }))).toEqual([]);
  });

  it('caches scores per user, context and memory, and recomputes them after the memory changes', async () => {
    const id = memoryIds[0]!;
    const before = await loads(t, 'score');
    const first = await t.gql(RELEVANCE, { id, contextId }, { token: user.token });
    const again = await t.gql(RELEVANCE, { id, contextId }, { token: user.token });
    expect(again.data.memory.relevance).toEqual(first.data.memory.relevance);
    expect(await loads(t, 'score')).toBe(before + 1);

    t.clock.advance(1000);
    await t.gql(UPDATE, { id, content: 'sauce notes' }, { token: user.token });
    const changed = await t.gql(RELEVANCE, { id, contextId }, { token: user.token });
    expect(await loads(t, 'score')).toBe(before + 2);
    expect(changed.data.memory.relevance.computedAt).not.toBe(first.data.memory.relevance.computedAt);
  });

  it('serves a score near the end of its life once more while recomputing it in the background', async () => {
    const id = memoryIds[1]!;
    const first = (await t.gql(RELEVANCE, { id, contextId }, { token: user.token })).data.memory.relevance;
    const before = await loads(t, 'score');
    t.clock.advance(14.5 * 60_000); // into the last CACHE_SCORE_STALE_SECONDS of the 15 minutes
    user = { ...user, token: await t.login(user) };
    const stale = (await t.gql(RELEVANCE, { id, contextId }, { token: user.token })).data.memory.relevance;
    expect(stale.computedAt).toBe(first.computedAt);
    const refreshed = async () =>
      new Date((await t.gql(RELEVANCE, { id, contextId }, { token: user.token })).data.memory.relevance.computedAt).getTime();
    await expect.poll(refreshed).toBe(t.clock.now().getTime());
    expect(await loads(t, 'score')).toBe(before + 1);
  });

  it('refuses a logged-out token on the next request although the session was cached', async () => {
    const other = await t.newUser();
    expect((await t.gql('{ viewer { id } }', {}, { token: other.token })).data.viewer.id).toBe(other.id);
    await t.gql('mutation { logout { sessionId } }', {}, { token: other.token });
    expect((await t.gql('{ viewer { id } }', {}, { token: other.token })).status).toBe(401);
  });
});

describe.runIf(inject('redisUrl'))('Redis keys, TTLs and the version guard', () => {
  let t: TestApp;
  let redis: Redis;
  beforeAll(async () => {
    t = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')! });
    redis = new Redis(inject('redisUrl')!);
  });
  afterAll(async () => {
    redis.disconnect();
    await t.close();
  });

  it('stores entities under the documented keys with their TTLs', async () => {
    const { user, contextId, memoryIds } = await seed(t, 1);
    const id = memoryIds[0]!;
    await t.gql(RELEVANCE, { id, contextId }, { token: user.token });
    await t.gql(READ, { id }, { token: user.token });
    const { keys } = t.cache;
    const ttl = async (key: string) => redis.pttl(key);
    const tokenHash = createHash('sha256').update(user.token).digest('hex');
    expect(keys.memory(id)).toBe(`${keys.prefix}memory:${id}`);
    expect(await ttl(keys.memory(id))).toBeGreaterThan(3_590_000);
    expect(await ttl(keys.memory(id))).toBeLessThanOrEqual(3_600_000);
    expect(await ttl(keys.context(contextId))).toBeGreaterThan(590_000);
    expect(await ttl(keys.context(contextId))).toBeLessThanOrEqual(600_000);
    expect(await ttl(`${keys.prefix}session:${tokenHash}`)).toBeGreaterThan(1_700_000);
    expect(await ttl(`${keys.prefix}session:${tokenHash}`)).toBeLessThanOrEqual(1_800_000);
    const scoreKey = `${keys.prefix}score:${user.id}:${contextId}:${id}`;
    expect(await ttl(scoreKey)).toBeGreaterThan(890_000);
    expect(await ttl(scoreKey)).toBeLessThanOrEqual(900_000);
    expect(await redis.get(keys.memory(id))).toMatch(/^1\|v\|1\|\d+\|\{/);
  });

  it('refuses to put an older version over a newer value or tombstone', async () => {
    const key = `${t.cache.keys.prefix}memory:guard-test`;
    const put = (state: string, version: number) =>
      t.cache.entities.fill([{ key, value: `1|${state}|${version}|0|${state === 'v' ? '{}' : ''}`, version, ttlMs: 60_000 }], t.cache.log.position());
    await put('v', 5);
    await put('v', 3);
    expect(await redis.get(key)).toBe('1|v|5|0|{}');
    await put('t', 6);
    await put('v', 5);
    expect(await redis.get(key)).toBe('1|t|6|0|');
    await put('v', 6);
    expect(await redis.get(key)).toBe('1|v|6|0|{}');
  });

  it('refuses a value read before an invalidation even once its tombstone is gone (evicted or expired)', async () => {
    const { user, memoryIds } = await seed(t, 1);
    const id = memoryIds[0]!;
    const key = t.cache.keys.memory(id);
    await t.gql(READ, { id }, { token: user.token });
    const before = t.cache.log.position();
    const v1 = await redis.get(key);
    expect(v1).toMatch(/^1\|v\|1\|/);
    await t.gql(UPDATE, { id, content: 'v2' }, { token: user.token });
    // What the update left behind disappears; what it recorded of the invalidation stays.
    await redis.del(key);
    expect(Number(await redis.get(t.cache.keys.entityPosition(key)))).toBeGreaterThan(before.pos);
    await t.cache.entities.fill([{ key, value: v1!, version: 1, ttlMs: 60_000 }], before);
    expect(await redis.get(key)).toBeNull();
    await t.cache.entities.fill([{ key, value: v1!, version: 1, ttlMs: 60_000 }], t.cache.log.position());
    expect(await redis.get(key)).toBe(v1);
  });
});

describe.runIf(inject('redisUrl'))('two instances sharing Redis and the database', () => {
  let a: TestApp;
  let b: TestApp;
  let c: TestApp;
  let d: TestApp;
  beforeAll(async () => {
    const prefix = `recall-test:${Math.random().toString(36).slice(2)}:`;
    // Memory reads come back up to 30 ms late, so that readers often hold a row older than
    // the write that just returned: without the version guard they would put it back.
    const wrapDatabase = (db: Database) => withSlowReads(db, (sql) => sql.includes('FROM memories m WHERE m.id = ANY'), 30);
    const options = { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: prefix }, wrapDatabase };
    a = await createTestApp(backends().at(-1)!, options);
    b = await createTestApp(backends().at(-1)!, { ...options, database: a.database });
    // Another deployment (a database and a Redis namespace go together), without L1.
    const withoutL1 = { ...options, env: { REDIS_KEY_PREFIX: `${prefix}no-l1:`, CACHE_L1_MAX_ENTRIES: '0' } };
    c = await createTestApp(backends().at(-1)!, withoutL1);
    d = await createTestApp(backends().at(-1)!, { ...withoutL1, database: c.database });
  });
  afterAll(async () => {
    await d.close();
    await c.close();
    await b.close();
    await a.close();
  });

  it("shows an update made on one instance on the other's next read, past its L1", async () => {
    const { user, memoryIds } = await seed(a, 1);
    const id = memoryIds[0]!;
    await b.gql(READ, { id }, { token: user.token });
    expect(await b.countStatements(() => b.gql(READ, { id }, { token: user.token }))).toEqual([]);
    await a.gql(UPDATE, { id, content: 'changed on A' }, { token: user.token });
    // The next read arrives at B as a client's would: over a socket, after A has replied.
    await new Promise<void>((resolve) => b.app.server.listen(0, '127.0.0.1', resolve));
    try {
      const response = await fetch(`http://127.0.0.1:${(b.app.server.address() as AddressInfo).port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ query: READ, variables: { id } }),
      });
      expect(((await response.json()) as { data: { memory: unknown } }).data.memory).toMatchObject({ content: 'changed on A', version: 2 });
    } finally {
      b.app.server.closeAllConnections();
      await new Promise((resolve) => b.app.server.close(resolve));
    }
  });

  it('applies the invalidation of a writer that died between its commit and its invalidation, on its own', async () => {
    const { user, memoryIds } = await seed(a, 1);
    const id = memoryIds[0]!;
    for (const t of [a, b]) await t.gql(READ, { id }, { token: user.token });
    expect(await b.countStatements(() => b.gql(READ, { id }, { token: user.token }))).toEqual([]);
    // The write and its record in the outbox commit; the process that made them dies there.
    await updateMemory(a.database.db, id, { content: 'written by the dead' }, null, a.clock.now(), { id: 'evt_01M8TBZQ1B795RJR4P8J3SWH46', actorId: null });
    await expect
      .poll(async () => (await b.gql(READ, { id }, { token: user.token })).data.memory.content, { timeout: 10_000, interval: 200 })
      .toBe('written by the dead');
    expect(await a.database.db.query('SELECT id FROM cache_outbox')).toEqual([]);
  });

  it('computes a missing score once across instances (lease), the other instance waits for it', async () => {
    const { user, contextId, memoryIds } = await seed(a, 20);
    const query = `query ($id: ID!) { context(id: $id) { memories(first: 20) { edges { node { relevance(contextId: $id) { score } } } } } }`;
    const before = (await loads(a, 'score')) + (await loads(b, 'score'));
    const [fromA, fromB] = await Promise.all([
      a.gql(query, { id: contextId }, { token: user.token }),
      b.gql(query, { id: contextId }, { token: user.token }),
    ]);
    expect(fromA.data).toEqual(fromB.data);
    expect((await loads(a, 'score')) + (await loads(b, 'score')) - before).toBe(20);
    expect(memoryIds).toHaveLength(20);
  });

  /**
   * Writers and readers on the same few ids, through both instances or one. With an L1 on each
   * of several instances the promise is weaker: a read there may trail a write made elsewhere
   * by one invalidation message (see the test above for the next read of a client).
   */
  it.each([
    ['two instances sharing Redis, without L1', () => [c, d]],
    ['one instance with L1 and Redis', () => [a]],
  ])('never lets a read that starts after a write returned see an older version: %s', async (_name, instancesOf) => {
    const instances = instancesOf();
    const { user, memoryIds } = await seed(instances[0]!, 4);
    const committed = new Map(memoryIds.map((id) => [id, 1]));
    const violations: string[] = [];
    let reads = 0;
    const pick = <T>(items: T[]) => items[Math.floor(Math.random() * items.length)]!;

    const writer = async (n: number) => {
      for (let i = 0; i < 40; i++) {
        const id = pick(memoryIds);
        const result = await pick(instances).gql(UPDATE, { id, content: `write ${n}.${i}` }, { token: user.token });
        const version: number = result.data.updateMemory.memory.version;
        committed.set(id, Math.max(committed.get(id)!, version));
      }
    };
    const reader = async () => {
      for (let i = 0; i < 100; i++) {
        const id = pick(memoryIds);
        const floor = committed.get(id)!;
        const result = await pick(instances).gql(READ, { id }, { token: user.token });
        reads++;
        if (result.data.memory.version < floor) violations.push(`${id}: read v${result.data.memory.version} after v${floor} returned`);
      }
    };
    await Promise.all([...Array.from({ length: 4 }, (_, n) => writer(n)), ...Array.from({ length: 8 }, reader)]);
    expect(reads).toBe(800);
    expect(violations).toEqual([]);
  }, 120_000);
});
