import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const READ = `query ($id: ID!) { memory(id: $id) { content } }`;
const LIST = `query ($id: ID!) { context(id: $id) { memories(first: 5) { edges { node { content } } } } }`;
const SEARCH = `query ($id: ID!) { searchMemories(input: { contextId: $id, query: "round" }) { edges { node { content } } } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } } }`;

/** Memories answered by the instance's in-process tier. */
const l1Hits = (t: TestApp) => t.metric('recall_cache_lookups_total', { kind: 'memory', tier: 'l1', result: 'hit' });

/** Two instances of one deployment: one database, one Redis, a fresh key prefix; B's connections go into `connectionsOfB`. */
async function twoInstances(env: Record<string, string> = {}, connectionsOfB?: Map<string, Redis>): Promise<[TestApp, TestApp]> {
  const shared = { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: `recall-test:${Math.random().toString(36).slice(2)}:`, ...env } };
  const a = await createTestApp(backends().at(-1)!, shared);
  const b = await createTestApp(backends().at(-1)!, { ...shared, database: a.database, ...(connectionsOfB ? { redisClients: connectionsOfB } : {}) });
  return [a, b];
}

describe.runIf(inject('redisUrl'))('read-your-writes across instances, with L1 on (the default)', () => {
  it.each([
    ['the response cache on', 'true'],
    ['the response cache off', 'false'],
  ])('with %s: 1,000 rounds of a write on A then a read on B, not one stale', async (_name, responseCache) => {
    const [a, b] = await twoInstances({ RESPONSE_CACHE_ENABLED: responseCache });
    try {
      const user = await a.newUser();
      const { contextId, memoryIds } = await a.newMemories(user, ['round 0']);
      const memoryId = memoryIds[0]!;
      // B is read over HTTP, as a client would, so its cached-hit front is on the path too.
      const urlB = await listen(b);
      const readOnB = async (query: string) => {
        const response = await fetch(urlB, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
          body: JSON.stringify({ query, variables: { id: query === READ ? memoryId : contextId } }),
        });
        return ((await response.json()) as { data: any }).data;
      };
      const contentOf = [
        async () => (await readOnB(READ)).memory.content,
        async () => (await readOnB(LIST)).context.memories.edges[0].node.content,
        async () => (await readOnB(SEARCH)).searchMemories.edges[0].node.content,
      ];
      for (const read of contentOf) expect(await read()).toBe('round 0');

      const hitsBefore = await l1Hits(b);
      const stale: string[] = [];
      for (let round = 1; round <= 1_000; round++) {
        const written = await a.gql(UPDATE, { id: memoryId, content: `round ${round}` }, { token: user.token });
        expect(written.data.updateMemory.memory.version).toBe(round + 1);
        const seen = await contentOf[round % contentOf.length]!();
        if (seen !== `round ${round}`) stale.push(`round ${round}: ${seen}`);
      }
      expect(stale).toEqual([]);
      // B's in-process tier did answer during the rounds: they were not all sent past it.
      expect(await l1Hits(b)).toBeGreaterThan(hitsBefore);
    } finally {
      b.app.server.closeAllConnections();
      await b.close();
      await a.close();
    }
  }, 180_000);
});

describe.runIf(inject('redisUrl'))('read-your-writes while an instance lags behind the invalidation log', () => {
  it("serves B's next read fresh although B has not received A's invalidations yet, then uses its L1 again", async () => {
    const connectionsOfB = new Map<string, Redis>();
    const [a, b] = await twoInstances({ RESPONSE_CACHE_ENABLED: 'false' }, connectionsOfB);
    try {
      const user = await a.newUser();
      const memoryId = (await a.newMemories(user, ['round 0'])).memoryIds[0]!;
      await expect.poll(async () => (await b.gql(READ, { id: memoryId }, { token: user.token })).data.memory.content).toBe('round 0');
      const caughtUp = b.cache.log.position().pos;

      // B stops reading its invalidation messages: Redis keeps them for it, unread.
      const messages = connectionsOfB.get('invalidations')!.stream;
      messages.pause();
      const hitsBefore = await l1Hits(b);
      for (let round = 1; round <= 20; round++) {
        await a.gql(UPDATE, { id: memoryId, content: `round ${round}` }, { token: user.token });
        expect((await b.gql(READ, { id: memoryId }, { token: user.token })).data.memory.content).toBe(`round ${round}`);
      }
      // Every one of those reads went past B's L1, which still held round 0.
      expect(b.cache.log.position().pos).toBe(caughtUp);
      expect(await l1Hits(b)).toBe(hitsBefore);

      messages.resume();
      await expect.poll(() => b.cache.log.position().pos).toBe(caughtUp + 20);
      expect((await b.gql(READ, { id: memoryId }, { token: user.token })).data.memory.content).toBe('round 20');
      expect(await l1Hits(b)).toBeGreaterThan(hitsBefore);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe.runIf(inject('redisUrl'))("Redis's log going back without a dropped connection", () => {
  it('is noticed by the next invalidation and treated as cold: nothing older is served', async () => {
    const [a, b] = await twoInstances();
    const admin = new Redis(inject('redisUrl')!);
    try {
      const user = await a.newUser();
      const memoryId = (await a.newMemories(user, ['round 0'])).memoryIds[0]!;
      await a.gql(UPDATE, { id: memoryId, content: 'round 1' }, { token: user.token });
      for (const t of [a, b]) await t.cache.log.flush();
      for (const t of [a, b]) expect((await t.gql(READ, { id: memoryId }, { token: user.token })).data.memory.content).toBe('round 1');
      // Either instance may be the one to start the new generation: both hear the log go back.
      const generations = async () => (await a.metric('recall_cache_generations_total')) + (await b.metric('recall_cache_generations_total'));
      const generationsBefore = await generations();
      // What a replica promoted behind a proxy would look like: the same generation, an older
      // position, and an older value, with every connection still open.
      const log = a.cache.keys.log;
      await admin.hincrby(log, 'pos', -2);
      await admin.set(a.cache.keys.memory(memoryId), (await admin.get(a.cache.keys.memory(memoryId)))!.replace('round 1', 'round 0'));
      await a.gql(UPDATE, { id: memoryId, content: 'round 2' }, { token: user.token });
      await expect.poll(generations, { timeout: 10_000 }).toBe(generationsBefore + 1);
      // B heard it on its own connection, and synced again before it used Redis.
      await expect.poll(() => b.metric('recall_cache_syncs_total'), { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      for (let i = 0; i < 5; i++) {
        for (const t of [a, b]) expect((await t.gql(READ, { id: memoryId }, { token: user.token })).data.memory.content).toBe('round 2');
      }
    } finally {
      admin.disconnect();
      await b.close();
      await a.close();
    }
  });
});

describe.runIf(inject('redisUrl'))('no fault, no resync', () => {
  it('keeps using Redis through concurrent writes on one instance and reads on another (it synced once, at start-up)', async () => {
    const [a, b] = await twoInstances();
    try {
      const user = await a.newUser();
      const { contextId, memoryIds: ids } = await a.newMemories(user, ['a', 'b']);
      const writer = async (n: number) => {
        for (let i = 0; i < 40; i++) await a.gql(UPDATE, { id: ids[(n + i) % 2], content: `write ${n}.${i}` }, { token: user.token });
      };
      const reader = async () => {
        for (let i = 0; i < 60; i++) await b.gql(i % 2 ? READ : LIST, { id: i % 2 ? ids[i % 2] : contextId }, { token: user.token });
      };
      await Promise.all([writer(0), writer(1), reader(), reader(), reader(), reader()]);
      expect(await a.metric('recall_cache_syncs_total')).toBe(1);
      expect(await b.metric('recall_cache_syncs_total')).toBe(1);
    } finally {
      await b.close();
      await a.close();
    }
  }, 60_000);
});
