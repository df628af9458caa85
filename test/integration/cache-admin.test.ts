import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const redisUrl = inject('redisUrl');

const STATS = `{ cacheStats {
  lookups { kind tier hits misses hitRatio }
  latency { kind tier count sumSeconds meanMs }
  responses { hits misses hitRatio frontOk frontNotModified }
  keys { kind count } keysComplete
  redis { usedMemoryBytes evictedKeys expiredKeys keyspaceHits keyspaceMisses }
  topKeys { key kind score method }
  circuit
} }`;
const PURGE = 'mutation ($input: PurgeCacheInput!) { purgeCache(input: $input) { purged errors { code message field } } }';
const WARM = 'mutation ($input: WarmCacheInput!) { warmCache(input: $input) { contexts memories scores errors { code field } } }';
const MEMORY = 'query ($id: ID!) { memory(id: $id) { id content } }';
const CONTEXTS = '{ contexts(first: 5) { edges { node { id name } } } }';
const LIST = 'query ($id: ID!) { context(id: $id) { id name memories(first: 10) { edges { node { id content } } } } }';

/** An admin: promoted in SQL as an operator would, then logged in again (the old session carried the old role). */
async function newAdmin(t: TestApp): Promise<TestUser> {
  const user = await t.newUser('Admin');
  await t.database.db.query(`UPDATE users SET role = 'ADMIN', version = version + 1 WHERE id = $1`, [user.id]);
  return { ...user, token: await t.login(user) };
}

/** What one query cost an instance: response-cache hits, and memories and contexts read from PostgreSQL. */
async function costOf(t: TestApp, work: () => Promise<unknown>) {
  const before = await counters(t);
  await work();
  const after = await counters(t);
  return { responseHits: after.responseHits - before.responseHits, memoryLoads: after.memoryLoads - before.memoryLoads, contextLoads: after.contextLoads - before.contextLoads };
}

async function counters(t: TestApp) {
  return {
    responseHits: await t.metric('recall_cache_lookups_total', { kind: 'response', result: 'hit' }),
    memoryLoads: await t.metric('recall_cache_source_loads_total', { kind: 'memory' }),
    contextLoads: await t.metric('recall_cache_source_loads_total', { kind: 'context' }),
  };
}

/** Waits for a condition that an event in flight makes true, failing after a deadline. */
async function until(condition: () => boolean, deadlineMs = 5_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.runIf(inject('postgresUrl') && redisUrl)('purgeCache across two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: TestUser;
  let owner: TestUser;

  beforeAll(async () => {
    const env = { REDIS_KEY_PREFIX: `recall-test:${randomBytes(6).toString('hex')}:` };
    a = await createTestApp('postgres', { redisUrl: redisUrl!, env });
    b = await createTestApp('postgres', { redisUrl: redisUrl!, env, database: a.database });
    admin = await newAdmin(a);
    owner = await a.newUser();
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  /** Reads on B until the response is cached there (a hit in L1 or Redis). */
  async function cachedOnB(query: string, variables: Record<string, unknown>) {
    await b.gql(query, variables, { token: owner.token });
    const again = await costOf(b, () => b.gql(query, variables, { token: owner.token }));
    expect(again).toEqual({ responseHits: 1, memoryLoads: 0, contextLoads: 0 });
  }

  it('a memory: B recomputes the response it had cached, and reads the memory from PostgreSQL again', async () => {
    const { memoryIds } = await a.newMemories(owner, ['purge me']);
    await cachedOnB(MEMORY, { id: memoryIds[0] });
    // The memory entity itself is cached too (B's L1, Redis): read by another query shape.
    await b.gql('query ($id: ID!) { memory(id: $id) { content } }', { id: memoryIds[0] }, { token: owner.token });

    const purged = await a.gql(PURGE, { input: { typename: 'Memory', id: memoryIds[0] } }, { token: admin.token });
    expect(purged.errors).toBeUndefined();
    expect(purged.data.purgeCache).toEqual({ purged: 2, errors: [] });

    const after = await costOf(b, () => b.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token }));
    expect(after).toEqual({ responseHits: 0, memoryLoads: 1, contextLoads: 0 });
    expect(await a.metric('recall_cache_invalidations_total', { reason: 'ADMIN_PURGE' })).toBeGreaterThanOrEqual(1);
  });

  it('a context: its lists are recomputed on B, and its row read again', async () => {
    const { contextId } = await a.newMemories(owner, ['one', 'two']);
    await cachedOnB(LIST, { id: contextId });
    const purged = await a.gql(PURGE, { input: { contextId } }, { token: admin.token });
    expect(purged.data.purgeCache.errors).toEqual([]);
    const after = await costOf(b, () => b.gql(LIST, { id: contextId }, { token: owner.token }));
    expect(after.responseHits).toBe(0);
    expect(after.contextLoads).toBe(1);
  });

  it("a user: every response cached for them is recomputed, whatever it shows", async () => {
    const { memoryIds } = await a.newMemories(owner, ['mine']);
    await cachedOnB(CONTEXTS, {});
    await cachedOnB(MEMORY, { id: memoryIds[0] });
    expect((await a.gql(PURGE, { input: { userId: owner.id } }, { token: admin.token })).data.purgeCache.errors).toEqual([]);
    expect((await costOf(b, () => b.gql(CONTEXTS, {}, { token: owner.token }))).responseHits).toBe(0);
    expect(await costOf(b, () => b.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token }))).toEqual({ responseHits: 0, memoryLoads: 1, contextLoads: 0 });
  });

  it('a kind: every instance drops that tier, and Redis its keys', async () => {
    const { memoryIds } = await a.newMemories(owner, ['kind']);
    await cachedOnB(MEMORY, { id: memoryIds[0] });
    const purged = await a.gql(PURGE, { input: { kind: 'response' } }, { token: admin.token });
    expect(purged.data.purgeCache.errors).toEqual([]);
    expect(purged.data.purgeCache.purged).toBeGreaterThanOrEqual(1);
    expect(await a.cache.redis!.keys(`${a.app.deps.config.REDIS_KEY_PREFIX}response:*`)).toEqual([]);
    expect((await costOf(b, () => b.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token }))).responseHits).toBe(0);
  });

  it('everything: a new generation, which B stops serving the old one of before A replies', async () => {
    const { memoryIds } = await a.newMemories(owner, ['all']);
    await cachedOnB(MEMORY, { id: memoryIds[0] });
    const generations = await a.metric('recall_cache_generations_total');
    const purged = await a.gql(PURGE, { input: { all: true } }, { token: admin.token });
    expect(purged.data.purgeCache.errors).toEqual([]);
    expect(purged.data.purgeCache.purged).toBeGreaterThanOrEqual(1);
    expect(await a.metric('recall_cache_generations_total')).toBe(generations + 1);
    expect(await costOf(b, () => b.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token }))).toEqual({ responseHits: 0, memoryLoads: 1, contextLoads: 0 });
    // B syncs with the new generation on its own (that read told it), and caches again.
    await until(() => b.cache.log.usable());
    await cachedOnB(MEMORY, { id: memoryIds[0] });
  });

  it('subscribers hear of a purge as an invalidation with reason ADMIN_PURGE', async () => {
    const { memoryIds } = await a.newMemories(owner, ['heard']);
    const before = await a.metric('recall_events_published_total');
    await a.gql(PURGE, { input: { typename: 'Memory', id: memoryIds[0] } }, { token: admin.token });
    expect(await a.metric('recall_events_published_total')).toBeGreaterThan(before);
    const [row] = await a.database.db.query<{ change: { reason: string } }>(`SELECT change FROM cache_outbox WHERE change->>'reason' = 'ADMIN_PURGE' ORDER BY id DESC LIMIT 1`);
    // Acknowledged rows are deleted: one left here would be pending; either way none failed to parse.
    expect(row === undefined || row.change.reason === 'ADMIN_PURGE').toBe(true);
  });

  it('needs exactly one selector, and a known one', async () => {
    for (const input of [{}, { contextId: 'ctx_x', userId: 'usr_x' }, { typename: 'Session', id: 'ses_x' }, { kind: 'nothing' }, { all: false }]) {
      const result = await a.gql(PURGE, { input }, { token: admin.token });
      expect(result.data.purgeCache.purged).toBe(0);
      expect(result.data.purgeCache.errors[0].code).toBe('BAD_USER_INPUT');
    }
    const unknown = await a.gql(PURGE, { input: { typename: 'Memory', id: 'mem_nothing' } }, { token: admin.token });
    expect(unknown.data.purgeCache.errors[0].code).toBe('NOT_FOUND');
  });

  it('refuses non-admins, and an admin key without the ADMIN scope, with FORBIDDEN', async () => {
    const narrow = await a.gql(
      'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }',
      { input: { name: 'reader', scopes: ['MEMORY_READ'] } },
      { token: admin.token },
    );
    const key = narrow.data.createApiKey.secret as string;
    for (const token of [owner.token, key]) {
      for (const [query, variables] of [
        [STATS, {}],
        [PURGE, { input: { all: true } }],
        [WARM, { input: { userId: owner.id } }],
      ] as const) {
        const result = await a.gql(query, variables, { token });
        expect(result.errors?.[0]?.extensions?.code, query).toBe('FORBIDDEN');
      }
    }
  });

  it('cacheStats: lookups by kind and tier that move with queries, keys by kind, Redis memory, top keys, circuit', async () => {
    const { memoryIds } = await a.newMemories(owner, ['counted']);
    const before = (await a.gql(STATS, {}, { token: admin.token })).data.cacheStats;
    await a.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token });
    await a.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token });
    const stats = (await a.gql(STATS, {}, { token: admin.token })).data.cacheStats;

    const lookups = (s: typeof stats, kind: string) => s.lookups.filter((l: any) => l.kind === kind).reduce((sum: number, l: any) => sum + l.hits + l.misses, 0);
    expect(lookups(stats, 'memory')).toBeGreaterThan(lookups(before, 'memory'));
    expect(stats.responses.hits).toBe(before.responses.hits + 1);
    // Latency by kind and tier: the response lookups of the two reads and of this stats query were timed.
    const timed = (s: typeof stats, tier: string) => s.latency.find((l: any) => l.kind === 'response' && l.tier === tier)?.count ?? 0;
    expect(timed(stats, 'l1')).toBe(timed(before, 'l1') + 3);
    for (const entry of stats.latency) if (entry.count > 0) expect(entry.meanMs).toBeCloseTo((entry.sumSeconds / entry.count) * 1000);
    for (const entry of stats.lookups) if (entry.hits + entry.misses > 0) expect(entry.hitRatio).toBeCloseTo(entry.hits / (entry.hits + entry.misses));
    expect(stats.keys.find((k: any) => k.kind === 'memory')?.count).toBeGreaterThanOrEqual(1);
    expect(stats.keys.find((k: any) => k.kind === 'log')?.count).toBe(1);
    expect(stats.keysComplete).toBe(true);
    expect(stats.redis.usedMemoryBytes).toBeGreaterThan(0);
    expect(stats.topKeys.length).toBeGreaterThan(0);
    expect(['OBJECT_FREQ', 'MEMORY_USAGE']).toContain(stats.topKeys[0].method);
    expect(stats.topKeys.every((k: any) => !k.key.startsWith(a.app.deps.config.REDIS_KEY_PREFIX))).toBe(true);
    expect(stats.circuit).toBe('closed');
  });

  it('warmCache loads a context in batches, and the next reads are hits', async () => {
    const { contextId, memoryIds } = await a.newMemories(owner, ['w1', 'w2', 'w3']);
    const loads = await a.metric('recall_cache_source_loads_total', { kind: 'memory' });
    const warmed = await a.gql(WARM, { input: { contextId } }, { token: admin.token });
    expect(warmed.data.warmCache).toEqual({ contexts: 1, memories: 3, scores: 3, errors: [] });
    expect(await a.metric('recall_cache_source_loads_total', { kind: 'memory' })).toBe(loads + 3);
    // B never read these: they come from Redis, not PostgreSQL.
    const cost = await costOf(b, () => b.gql(MEMORY, { id: memoryIds[1] }, { token: owner.token }));
    expect(cost).toEqual({ responseHits: 0, memoryLoads: 0, contextLoads: 0 });
    expect(await b.metric('recall_cache_lookups_total', { kind: 'memory', tier: 'redis', result: 'hit' })).toBeGreaterThanOrEqual(1);

    const byUser = await a.gql(WARM, { input: { userId: owner.id } }, { token: admin.token });
    expect(byUser.data.warmCache.contexts).toBeGreaterThanOrEqual(1);
    expect((await a.gql(WARM, { input: {} }, { token: admin.token })).data.warmCache.errors[0].code).toBe('BAD_USER_INPUT');
  });
});

describe.each(backends())('cacheStats without Redis, on %s', (backend) => {
  it('answers what exists: lookups and responses, no keys, no Redis, circuit disabled', async () => {
    const t = await createTestApp(backend);
    try {
      const admin = await newAdmin(t);
      const stats = (await t.gql(STATS, {}, { token: admin.token })).data.cacheStats;
      expect(stats).toMatchObject({ keys: [], redis: null, topKeys: [], circuit: 'disabled', keysComplete: true });
      expect(stats.lookups.some((l: any) => l.kind === 'session')).toBe(true);
      const { memoryIds } = await t.newMemories(admin, ['local']);
      await t.gql(MEMORY, { id: memoryIds[0] }, { token: admin.token });
      const purged = await t.gql(PURGE, { input: { typename: 'Memory', id: memoryIds[0] } }, { token: admin.token });
      expect(purged.data.purgeCache).toEqual({ purged: 2, errors: [] });
      expect(await t.gql(PURGE, { input: { all: true } }, { token: admin.token })).toMatchObject({ data: { purgeCache: { errors: [] } } });
    } finally {
      await t.close();
    }
  });
});
