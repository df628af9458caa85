import { expect, inject, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';
import { freePort, startRedisServer } from '../helpers/redis-server.js';

const READ = `query ($id: ID!) { memory(id: $id) { id content version } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } errors { code } } }`;
const backend = backends().at(-1)!;

async function seed(t: TestApp) {
  const user = await t.newUser();
  const created = await t.gql('mutation { createContext(input: { name: "Faults" }) { context { id } } }', {}, { token: user.token });
  const contextId: string = created.data.createContext.context.id;
  const added = await t.gql(
    'mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } } }',
    { input: { contextId, items: Array.from({ length: 5 }, (_, i) => ({ content: `fault note ${i}` })) } },
    { token: user.token },
  );
  return { user, contextId, memoryIds: added.data.addMemories.memories.map((m: { id: string }) => m.id) as string[] };
}

/**
 * Reads, searches and writes from several clients at once until stopped; returns the failures.
 * Each client yields to the event loop between requests: with PGlite and no reachable Redis a
 * request never waits for I/O, and a loop of them would starve the timers that stop it.
 */
function load(t: TestApp, user: TestUser, contextId: string, memoryIds: string[]) {
  let running = true;
  const failures: string[] = [];
  let requests = 0;
  const client = async (n: number) => {
    for (let i = 0; running; i++) {
      await new Promise(setImmediate);
      const id = memoryIds[(n + i) % memoryIds.length]!;
      const result =
        i % 5 === 0
          ? await t.gql(UPDATE, { id, content: `fault note, write ${n}.${i}` }, { token: user.token })
          : i % 5 === 1
            ? await t.gql('query ($c: ID!) { searchMemories(input: { contextId: $c, query: "fault note" }) { edges { score } } }', { c: contextId }, { token: user.token })
            : await t.gql(READ, { id }, { token: user.token });
      requests++;
      if (result.status !== 200 || result.errors) failures.push(JSON.stringify(result.errors ?? result.status));
    }
  };
  const clients = Promise.all(Array.from({ length: 6 }, (_, n) => client(n)));
  return {
    async stop() {
      running = false;
      await clients;
      return { failures, requests };
    },
  };
}

const health = async (t: TestApp) => (await t.app.yoga.fetch('http://recall.test/health')).json();

it('answers every request when REDIS_URL points at a closed port, and says degraded', async () => {
  const t = await createTestApp(backend, { redisUrl: `redis://127.0.0.1:${await freePort()}` });
  try {
    const { user, contextId, memoryIds } = await seed(t);
    const running = load(t, user, contextId, memoryIds);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const { failures, requests } = await running.stop();
    expect(requests).toBeGreaterThan(20);
    expect(failures).toEqual([]);
    const response = await t.app.yoga.fetch('http://recall.test/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'degraded', checks: { database: { status: 'ok' }, redis: { status: 'down', circuit: 'open' } } });
  } finally {
    await t.close();
  }
}, 60_000);

it.runIf(inject('redisServer'))('keeps answering while Redis is killed under load and restarted, then caches again', async () => {
  const port = await freePort();
  let redis = await startRedisServer(port);
  const t = await createTestApp(backend, { redisUrl: redis.url, env: { REDIS_BREAKER_PROBE_MS: '100' } });
  try {
    const { user, contextId, memoryIds } = await seed(t);
    const running = load(t, user, contextId, memoryIds);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await redis.stop();
    await expect.poll(async () => (await health(t)).status, { timeout: 10_000 }).toBe('degraded');
    await new Promise((resolve) => setTimeout(resolve, 500));
    redis = await startRedisServer(port);
    await expect.poll(async () => (await health(t)).checks.redis.circuit, { timeout: 10_000, interval: 100 }).toBe('closed');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { failures, requests } = await running.stop();
    // Whether the breaker opened depends on which requests met the outage; it closed as often as it opened.
    const [opened, closed] = [await t.metric('recall_cache_redis_circuit_transitions_total', { to: 'open' }), await t.metric('recall_cache_redis_circuit_transitions_total', { to: 'closed' })];
    expect(closed).toBe(opened);
    expect(await t.metric('recall_cache_redis_circuit_open')).toBe(0);
    expect(requests).toBeGreaterThan(50);
    expect(failures).toEqual([]);

    // The restarted Redis is empty: a first read misses, the next one is a hit again.
    expect((await health(t)).status).toBe('ok');
    const id = memoryIds[0]!;
    const fresh = await t.gql(READ, { id }, { token: user.token });
    expect(await t.countStatements(() => t.gql(READ, { id }, { token: user.token }))).toEqual([]);
    // And nothing written before or during the outage is served stale.
    const [row] = await t.database.db.query<{ version: number }>('SELECT version FROM memories WHERE id = $1', [id]);
    expect(fresh.data.memory.version).toBe(row!.version);
  } finally {
    await t.close();
    await redis.stop();
  }
}, 60_000);

it.runIf(inject('redisServer'))("keeps delivering another instance's events after Redis restarts", async () => {
  const port = await freePort();
  let redis = await startRedisServer(port);
  const env = { REDIS_KEY_PREFIX: `recall-test:${Math.random().toString(36).slice(2)}:` };
  const a = await createTestApp(backend, { redisUrl: redis.url, env });
  const b = await createTestApp(backend, { redisUrl: redis.url, env, database: a.database });
  const received: string[] = [];
  const stop = b.events.bus.listen((event) => {
    if (event.kind === 'invalidation') received.push(event.invalidation.reason);
  });
  try {
    const { user, contextId } = await seed(a);
    await expect.poll(() => received.length, { timeout: 5_000 }).toBeGreaterThan(0);
    await redis.stop();
    redis = await startRedisServer(port);
    received.length = 0;
    // A publishes once its connection is back; B's follower, once its own is, reads on.
    await expect
      .poll(
        async () => {
          await a.gql('mutation ($c: ID!) { addMemories(input: { contextId: $c, items: [{ content: "after restart" }] }) { memories { id } } }', { c: contextId }, { token: user.token });
          return received.includes('MEMORIES_ADDED');
        },
        { timeout: 15_000, interval: 500 },
      )
      .toBe(true);
  } finally {
    stop();
    await b.close();
    await a.close();
    await redis.stop();
  }
}, 60_000);
