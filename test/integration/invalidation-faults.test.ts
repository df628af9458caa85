import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { freePort, startRedisServer, type RedisServer, type RedisServerOptions } from '../helpers/redis-server.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const READ = `query ($id: ID!) { memory(id: $id) { content } }`;
const LIST = `query ($id: ID!) { context(id: $id) { memories(first: 20) { edges { node { content } } } } }`;
const SEARCH = `query ($id: ID!) { searchMemories(input: { contextId: $id, query: "one two three" }) { edges { node { content } } } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } errors { code } } }`;
const DELETE = `mutation ($id: ID!) { deleteMemory(input: { id: $id }) { deletedMemoryId errors { code } } }`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Deployment {
  redis: RedisServer;
  port: number;
  dir: string;
  instances: TestApp[];
  urls: string[];
  user: TestUser;
  contextId: string;
  one: string;
  two: string;
}

/**
 * Two instances of one deployment, sharing a database and a redis-server of the test's own, with
 * a context of three memories that both instances have read, so that every tier (Redis, each
 * L1, each response cache) holds them.
 */
async function deploy(options: RedisServerOptions & { prefix: string; env?: Record<string, string> }): Promise<Deployment> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'recall-redis-'));
  const redis = await startRedisServer(port, { ...options, dir });
  const env = { REDIS_KEY_PREFIX: options.prefix, REDIS_BREAKER_PROBE_MS: '100', ...options.env };
  const a = await createTestApp(backends().at(-1)!, { redisUrl: redis.url, env });
  const b = await createTestApp(backends().at(-1)!, { redisUrl: redis.url, env, database: a.database });
  const user = await a.newUser();
  const {
    contextId,
    memoryIds: [one, two],
  } = await a.newMemories(user, ['one v1', 'two', 'three']);
  const deployment = { redis, port, dir, instances: [a, b], urls: [await listen(a), await listen(b)], user, contextId, one: one!, two: two! };
  for (let i = 0; i < 2; i++) expect(await staleReads(deployment, { one: 'one v1', twoExists: true })).toEqual([]);
  // Warm: both instances answer from their caches, without SQL.
  for (const t of deployment.instances) {
    expect(await t.countStatements(() => t.gql(LIST, { id: contextId }, { token: user.token }))).toEqual([]);
    expect(await t.countStatements(() => t.gql(READ, { id: two }, { token: user.token }))).toEqual([]);
  }
  return deployment;
}

/**
 * Reads the memory, the deleted memory, the list and a search on both instances, through yoga
 * and over HTTP (the cached-hit front), and returns what was not as `expected`.
 */
async function staleReads(d: Deployment, expected: { one: string; twoExists: boolean }): Promise<string[]> {
  const stale: string[] = [];
  for (const [index, t] of d.instances.entries()) {
    const viaHttp = async (query: string, id: string) => {
      const response = await fetch(d.urls[index]!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${d.user.token}` },
        body: JSON.stringify({ query, variables: { id } }),
      });
      return ((await response.json()) as { data: any }).data;
    };
    for (const read of [(query: string, id: string) => t.gql(query, { id }, { token: d.user.token }).then((r) => r.data), viaHttp]) {
      const where = `instance ${index === 0 ? 'A' : 'B'}`;
      const one = (await read(READ, d.one)).memory?.content;
      if (one !== expected.one) stale.push(`${where}: memory(one) = ${one}`);
      const two = (await read(READ, d.two)).memory;
      if ((two !== null) !== expected.twoExists) stale.push(`${where}: memory(two) = ${JSON.stringify(two)}`);
      const listed = (await read(LIST, d.contextId)).context.memories.edges.map((edge: any) => edge.node.content) as string[];
      if (!listed.includes(expected.one) || listed.includes('two') !== expected.twoExists) stale.push(`${where}: list = ${listed.join(', ')}`);
      const found = (await read(SEARCH, d.contextId)).searchMemories.edges.map((edge: any) => edge.node.content) as string[];
      if (!found.includes(expected.one) || found.includes('two') !== expected.twoExists) stale.push(`${where}: search = ${found.join(', ')}`);
    }
  }
  return stale;
}

/** The write made during each fault: an update of `one` and the deletion of `two`, both acknowledged. */
async function writeDuringFault(d: Deployment): Promise<void> {
  const [a] = d.instances;
  const [updated, deleted] = await Promise.all([
    a!.gql(UPDATE, { id: d.one, content: 'one v2' }, { token: d.user.token }),
    a!.gql(DELETE, { id: d.two }, { token: d.user.token }),
  ]);
  expect(updated.data.updateMemory).toEqual({ memory: { version: 2 }, errors: [] });
  expect(deleted.data.deleteMemory).toEqual({ deletedMemoryId: d.two, errors: [] });
}

/** Reads on both instances for a while after the fault; none may be older than the acknowledged write. */
async function expectNoStaleReads(d: Deployment): Promise<void> {
  const stale: string[] = [];
  for (let round = 0; round < 15; round++) {
    stale.push(...(await staleReads(d, { one: 'one v2', twoExists: false })));
    await sleep(100);
  }
  expect(stale).toEqual([]);
}

describe.runIf(inject('redisServer'))('invalidation through Redis faults, two instances', () => {
  let deployment: Deployment | undefined;
  const prefix = () => `recall-test:${Math.random().toString(36).slice(2)}:`;
  afterEach(async () => {
    if (!deployment) return;
    for (const t of deployment.instances) t.app.server.closeAllConnections();
    await deployment.instances[1]!.close();
    await deployment.instances[0]!.close();
    await deployment.redis.stop();
    rmSync(deployment.dir, { recursive: true, force: true });
    deployment = undefined;
  });

  it('a write made while Redis is frozen (SIGSTOP) waits for it, and nothing stale is served after SIGCONT', async () => {
    const d = (deployment = await deploy({ prefix: prefix() }));
    d.redis.signal('SIGSTOP');
    const frozenAt = performance.now();
    const writing = writeDuringFault(d).then(() => performance.now());
    await sleep(1_500);
    d.redis.signal('SIGCONT');
    // Acknowledged only once Redis had applied their invalidations.
    expect((await writing) - frozenAt).toBeGreaterThanOrEqual(1_500);
    await expectNoStaleReads(d);
  }, 60_000);

  it('a write made while Redis is down is replayed when it restarts from its AOF, before Redis is used again', async () => {
    const d = (deployment = await deploy({ prefix: prefix(), appendonly: true }));
    await d.redis.stop();
    await writeDuringFault(d);
    d.redis = await startRedisServer(d.port, { dir: d.dir, appendonly: true });
    await expectNoStaleReads(d);
  }, 60_000);

  it('a Redis restarted from an older snapshot (acknowledged invalidations lost) is treated as cold', async () => {
    const d = (deployment = await deploy({ prefix: prefix() }));
    const admin = new Redis(d.redis.url);
    await admin.save();
    admin.disconnect();
    // Acknowledged by Redis, and recorded as such in PostgreSQL; then lost with the process.
    await writeDuringFault(d);
    for (const t of d.instances) await t.cache.log.flush();
    await d.redis.stop();
    d.redis = await startRedisServer(d.port, { dir: d.dir });
    await expectNoStaleReads(d);
    const generations = await Promise.all(d.instances.map((t) => t.metric('recall_cache_generations_total')));
    expect(generations[0]! + generations[1]!).toBeGreaterThan(0);
  }, 60_000);

  it('a write made after Redis came back waits for its invalidation, although this instance saw Redis refuse before', async () => {
    const d = (deployment = await deploy({ prefix: prefix(), appendonly: true }));
    const [a] = d.instances;
    await d.redis.stop();
    // A has seen the connection refused (and is backing off before its next attempt)…
    await expect.poll(async () => (await (await a!.app.yoga.fetch('http://recall.test/health')).json()).checks.redis.status).toBe('down');
    d.redis = await startRedisServer(d.port, { dir: d.dir, appendonly: true });
    // …but that refusal came before this write: it proves nothing about who reads Redis now.
    await writeDuringFault(d);
    const probe = new Redis(d.redis.url);
    try {
      // Superseded before the reply: written through, or left a tombstone by a sync's replay.
      expect(await probe.get(a!.cache.keys.memory(d.one))).toMatch(/^1\|[vt]\|2\|/);
      expect(await probe.get(a!.cache.keys.memory(d.two))).toMatch(/^1\|n\|/);
    } finally {
      probe.disconnect();
    }
    await expectNoStaleReads(d);
  }, 60_000);

  it('answers 503 CACHE_UNAVAILABLE, the write saved, when Redis does not answer within CACHE_WRITE_WAIT_MS; nothing stale after', async () => {
    const d = (deployment = await deploy({ prefix: prefix(), env: { CACHE_WRITE_WAIT_MS: '300' } }));
    const [a] = d.instances;
    d.redis.signal('SIGSTOP');
    let response;
    try {
      response = await a!.gql(UPDATE, { id: d.one, content: 'one v2' }, { token: d.user.token });
    } finally {
      d.redis.signal('SIGCONT');
    }
    expect(response.status).toBe(503);
    expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'CACHE_UNAVAILABLE', committed: true });
    const [row] = await a!.database.db.query<{ content: string }>('SELECT content FROM memories WHERE id = $1', [d.one]);
    expect(row!.content).toBe('one v2');
    // The invalidation reaches Redis once it answers.
    await a!.gql(DELETE, { id: d.two }, { token: d.user.token });
    await expectNoStaleReads(d);
  }, 60_000);

  it('a write made around a FLUSHALL is never undone by what the flush took away', async () => {
    const d = (deployment = await deploy({ prefix: prefix() }));
    const admin = new Redis(d.redis.url);
    const writing = writeDuringFault(d);
    await admin.flushall();
    admin.disconnect();
    await writing;
    await expectNoStaleReads(d);
  }, 60_000);
});
