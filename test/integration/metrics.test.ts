import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import parsePrometheus, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createClient as createSseClient } from 'graphql-sse';
import { listen, newStream, subscribeOverSse, subscribeOverWebSocket, until, webSocketClient, type Subscription } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

/** Families every deployment exports (the Redis INFO ones are added where Redis is used). */
const FAMILIES = [
  'recall_cache_lookups_total',
  'recall_cache_lookup_duration_seconds',
  'recall_cache_source_loads_total',
  'recall_cache_errors_total',
  'recall_cache_operation_duration_seconds',
  'recall_response_cache_fast_path_hits_total',
  'recall_response_cache_stores_refused_total',
  'recall_cache_invalidations_total',
  'recall_cache_invalidations_replayed_total',
  'recall_events_published_total',
  'recall_events_delivered_total',
  'recall_events_replayed_total',
  'recall_events_resyncs_total',
  'recall_subscriptions_active',
  'recall_subscriptions_ended_total',
  'recall_rate_limit_decisions_total',
  'recall_rate_limit_rejections_total',
  'recall_cache_redis_circuit_open',
  'recall_cache_redis_circuit_transitions_total',
  'recall_db_statements_total',
  'recall_db_statement_duration_seconds',
  'graphql_envelop_request',
  'graphql_envelop_request_duration',
  'graphql_envelop_error_result',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_seconds',
];
const REDIS_FAMILIES = [
  'recall_redis_used_memory_bytes',
  'recall_redis_evicted_keys',
  'recall_redis_expired_keys',
  'recall_redis_keyspace_hits',
  'recall_redis_keyspace_misses',
];

const MEMORIES = `query ReadMemories($ids: [ID!]!) { nodes(ids: $ids) { id } }`;
const READ_MEMORY = `query ReadMemory($id: ID!) { memory(id: $id) { id content } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } } }`;
const INVALIDATIONS = `subscription { cacheInvalidated { id reason } }`;

async function scrape(base: string, headers: Record<string, string> = {}): Promise<MetricFamily[]> {
  const response = await fetch(`${base}/metrics`, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}

/** The sum of a family's samples whose labels include `labels` (0 when there is none). */
function sum(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((candidate) => candidate.name === name);
  return (family?.metrics ?? [])
    .filter((sample) => Object.entries(labels).every(([label, value]) => sample.labels?.[label] === value))
    .reduce((total, sample) => total + Number(sample.value ?? 0), 0);
}

const origin = (t: TestApp) => `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;

describe.each(deployments())('/metrics ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let base: string;
  let user: TestUser;
  const redisClients = new Map<string, Redis>();

  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl, redisClients } : {});
    await listen(t);
    base = origin(t);
    user = await t.newUser();
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  it('exports every family, in the text format, parsed by a parser of that format', async () => {
    const expected = redisUrl ? [...FAMILIES, ...REDIS_FAMILIES] : FAMILIES;
    const families = await scrape(base);
    const names = new Set(families.map((family) => family.name));
    expect(expected.filter((name) => !names.has(name))).toEqual([]);
    if (redisUrl) {
      // The INFO sampler's first sample is taken at start-up (a scrape never asks Redis): wait for it.
      let sampled = families;
      for (const deadline = Date.now() + 5_000; sum(sampled, 'recall_redis_used_memory_bytes') === 0 && Date.now() < deadline; ) {
        sampled = await scrape(base);
      }
      expect(sum(sampled, 'recall_redis_used_memory_bytes')).toBeGreaterThan(0);
      expect(sum(sampled, 'recall_redis_keyspace_hits') + sum(sampled, 'recall_redis_keyspace_misses')).toBeGreaterThan(0);
      // However often it is scraped, Redis is not asked: a scrape returns the last sample.
      const client = redisClients.get('cache')!;
      const info = client.info.bind(client);
      let asked = 0;
      client.info = ((...args: Parameters<typeof info>) => {
        asked += 1;
        return info(...args);
      }) as typeof client.info;
      try {
        const scrapes = await Promise.all(Array.from({ length: 5 }, () => scrape(base)));
        expect(asked).toBe(0);
        for (const again of scrapes) expect(sum(again, 'recall_redis_used_memory_bytes')).toBeGreaterThan(0);
      } finally {
        client.info = info;
      }
    }
  });

  it('moves the counters by exactly what a known sequence of requests did', async () => {
    const { memoryIds } = await t.newMemories(user, ['one', 'two', 'three']);
    let before: MetricFamily[] = [];
    let read: MetricFamily[] = [];
    let after: MetricFamily[] = [];
    const statements = await t.countStatements(async () => {
      before = await scrape(base);
      // Two orders, so that the response cache does not answer the second.
      for (const ids of [memoryIds, [...memoryIds].reverse()]) {
        const read = await t.gql(MEMORIES, { ids }, { token: user.token });
        expect(read.data.nodes.map((node: { id: string }) => node.id)).toEqual(ids);
      }
      read = await scrape(base);
      await t.gql(UPDATE, { id: memoryIds[0], content: 'one, edited' }, { token: user.token });
      await t.cache.log.flush();
      after = await scrape(base);
    });
    const delta = (name: string, labels: Record<string, string> = {}) => sum(after, name, labels) - sum(before, name, labels);

    expect(delta('graphql_envelop_request', { operationName: 'ReadMemories', operationType: 'query' })).toBe(2);
    expect(delta('graphql_envelop_request', { operationName: 'Anonymous', operationType: 'mutation' })).toBe(1);
    // Three operations of one user: each decided against the user's budget, and allowed.
    expect(delta('recall_rate_limit_decisions_total', { limit: 'budget:FREE', result: 'allowed' })).toBe(3);
    expect(delta('recall_rate_limit_rejections_total')).toBe(0);
    expect(delta('recall_cache_invalidations_total', { reason: 'MEMORY_UPDATED' })).toBe(1);
    expect(delta('recall_cache_invalidations_total')).toBe(1);
    // The reads: three memories missed and loaded from the database by the first, then three hits
    // (in process, or in L1 in front of Redis), and two responses computed, each a miss.
    const readDelta = (name: string, labels: Record<string, string>) => sum(read, name, labels) - sum(before, name, labels);
    expect(readDelta('recall_cache_lookups_total', { kind: 'memory', result: 'miss' })).toBe(3);
    expect(readDelta('recall_cache_lookups_total', { kind: 'memory', result: 'hit', tier: redisUrl ? 'l1' : 'memory' })).toBe(3);
    expect(readDelta('recall_cache_source_loads_total', { kind: 'memory' })).toBe(3);
    expect(readDelta('recall_cache_lookups_total', { kind: 'response', result: 'miss', tier: redisUrl ? 'redis' : 'memory' })).toBe(2);
    expect(readDelta('recall_cache_lookups_total', { kind: 'response', result: 'hit' })).toBe(0);
    // Every statement the database was sent is counted once, under its kind.
    const kinds = ['select', 'insert', 'update', 'delete'] as const;
    expect(delta('recall_db_statements_total')).toBe(statements.length);
    for (const kind of kinds) {
      expect(delta('recall_db_statements_total', { kind })).toBe(statements.filter((sql) => sql.trimStart().toLowerCase().startsWith(kind)).length);
    }
  });

  it('counts the cached-hit front answers, 200 then 304', async () => {
    const { memoryIds } = await t.newMemories(user, ['cached']);
    const get = (headers: Record<string, string> = {}) =>
      fetch(`${base}/graphql?query=${encodeURIComponent(READ_MEMORY)}&variables=${encodeURIComponent(JSON.stringify({ id: memoryIds[0] }))}`, {
        headers: { authorization: `Bearer ${user.token}`, accept: 'application/graphql-response+json', ...headers },
      });
    const first = await get(); // computed and stored
    expect(first.status).toBe(200);
    const before = await scrape(base);
    const hit = await get();
    expect(hit.status).toBe(200);
    const revalidated = await get({ 'if-none-match': hit.headers.get('etag')! });
    expect(revalidated.status).toBe(304);
    const after = await scrape(base);
    const delta = (labels: Record<string, string>) =>
      sum(after, 'recall_response_cache_fast_path_hits_total', labels) - sum(before, 'recall_response_cache_fast_path_hits_total', labels);
    expect(delta({ status: '200' })).toBe(1);
    expect(delta({ status: '304' })).toBe(1);
    expect(sum(after, 'recall_cache_lookups_total', { kind: 'response', result: 'hit' })).toBeGreaterThanOrEqual(2);
  });

  it('counts subscribers by transport, and the events delivered to them', async () => {
    const { memoryIds } = await t.newMemories(user, ['watched']);
    const ws = webSocketClient(`${base}/graphql`, user.token);
    const single = createSseClient({ url: `${base}/graphql/stream`, singleConnection: true, headers: { authorization: `Bearer ${user.token}` }, retryAttempts: 0 });
    const singleEvents: unknown[] = [];
    const subscriptions: Array<{ close(): Promise<void> | void }> = [];
    try {
      subscriptions.push(await subscribeOverSse(t, `${base}/graphql`, user.token, INVALIDATIONS));
      subscriptions.push(await subscribeOverWebSocket(t, ws, INVALIDATIONS));
      const opened = newStream(t);
      subscriptions.push({ close: single.subscribe({ query: INVALIDATIONS }, { next: (value) => void singleEvents.push(value), error: () => undefined, complete: () => undefined }) });
      await opened;
      const open = await scrape(base);
      for (const transport of ['sse', 'websocket', 'sse-single']) {
        expect(sum(open, 'recall_subscriptions_active', { field: 'cacheInvalidated', transport })).toBe(1);
      }
      await t.gql(UPDATE, { id: memoryIds[0], content: 'changed' }, { token: user.token });
      const [sse, socket] = subscriptions as Subscription[];
      expect((await sse!.next()).data.cacheInvalidated.reason).toBe('MEMORY_UPDATED');
      expect((await socket!.next()).data.cacheInvalidated.reason).toBe('MEMORY_UPDATED');
      await until(() => singleEvents.length === 1);
      // Each delivery is counted before it is yielded, so every count has moved by now.
      const delivered = await scrape(base);
      for (const transport of ['sse', 'websocket', 'sse-single']) {
        const labels = { field: 'cacheInvalidated', transport };
        expect(sum(delivered, 'recall_events_delivered_total', labels) - sum(open, 'recall_events_delivered_total', labels)).toBe(1);
      }
    } finally {
      for (const subscription of subscriptions) await subscription.close();
      single.dispose();
      await ws.dispose();
    }
    await until(() => t.events.streams.size === 0);
    expect(sum(await scrape(base), 'recall_subscriptions_active')).toBe(0);
  });

  it('keeps label cardinality bounded after 1,000 distinct ids and operation names', async () => {
    const series = (families: MetricFamily[]) => families.reduce((total, family) => total + family.metrics.length, 0);
    const before = await scrape(base);
    const ids = Array.from({ length: 1_000 }, (_, i) => `mem_unknown${String(i).padStart(6, '0')}`);
    for (const [i, id] of ids.entries()) {
      const result = await t.gql(`query Lookup${i} ($id: ID!) { node(id: $id) { id } }`, { id }, { token: user.token });
      expect(result.data.node).toBeNull();
      // Scraped meanwhile, as Prometheus would (which also keeps the kept-alive connection from idling out).
      if (i % 250 === 249) await scrape(base);
    }
    const text = await (await fetch(`${base}/metrics`)).text();
    const after = parsePrometheus(text);
    // No id, user id or key reaches a label.
    for (const id of [...ids.slice(0, 50), user.id, user.token]) expect(text).not.toContain(id);
    // Operation names: the first 200 distinct ones get a series, the rest share "other".
    const names = new Set(after.find((family) => family.name === 'graphql_envelop_request')!.metrics.map((sample) => sample.labels!['operationName']));
    expect(names.size).toBeLessThanOrEqual(201);
    expect(names.has('other')).toBe(true);
    // Outside the operation metrics, 1,000 lookups add no series beyond a few new label combinations.
    const recall = (families: MetricFamily[]) => series(families.filter((family) => family.name.startsWith('recall_')));
    expect(recall(after) - recall(before)).toBeLessThan(20);
  });
});

describe.each(backends())('/metrics protection on %s', (backend) => {
  it('with METRICS_TOKEN, refuses a scrape without the token or with a wrong one', async () => {
    const t = await createTestApp(backend, { env: { METRICS_TOKEN: 'a-long-enough-metrics-token' } });
    try {
      await listen(t);
      const base = origin(t);
      const none = await fetch(`${base}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await none.text()).not.toContain('recall_');
      for (const authorization of ['Bearer wrong', 'Bearer a-long-enough-metrics-token2', 'a-long-enough-metrics-token', 'Basic a-long-enough-metrics-token']) {
        expect((await fetch(`${base}/metrics`, { headers: { authorization } })).status).toBe(401);
      }
      const families = await scrape(base, { authorization: 'Bearer a-long-enough-metrics-token' });
      expect(families.some((family) => family.name === 'recall_cache_lookups_total')).toBe(true);
    } finally {
      t.app.server.closeAllConnections();
      await t.close();
    }
  });

  it('with METRICS_PORT, serves /metrics on its own listener and not on the main port', async () => {
    const t = await createTestApp(backend, { env: { METRICS_PORT: '0' } });
    const metricsServer = t.app.metricsServer!;
    try {
      await listen(t);
      await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
      const own = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}`;
      expect((await fetch(`${origin(t)}/metrics`)).status).toBe(404);
      expect((await scrape(own)).some((family) => family.name === 'recall_db_statements_total')).toBe(true);
      // The metrics port serves nothing else.
      expect((await fetch(`${own}/graphql?query=%7B__typename%7D`)).status).toBe(404);
    } finally {
      metricsServer.closeAllConnections();
      await new Promise((resolve) => metricsServer.close(resolve));
      t.app.server.closeAllConnections();
      await t.close();
    }
  });
});

describe.each(backends())('/ready on %s', (backend) => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp(backend);
    await listen(t);
    base = origin(t);
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  it('is 200 when the database answers and every migration is applied', async () => {
    const response = await fetch(`${base}/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ready' });
  });

  it('is 503 naming the reason while a migration is missing, and 200 again once it is back', async () => {
    const [last] = await t.database.db.query<{ name: string; applied_at: Date }>('SELECT name, applied_at FROM schema_migrations ORDER BY name DESC LIMIT 1');
    await t.database.db.query('DELETE FROM schema_migrations WHERE name = $1', [last!.name]);
    try {
      const response = await fetch(`${base}/ready`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'unavailable', reason: 'migrations-pending', pending: 1 });
      // Liveness and health say nothing of migrations.
      expect((await fetch(`${base}/livez`)).status).toBe(200);
      expect((await fetch(`${base}/health`)).status).toBe(200);
    } finally {
      await t.database.db.query('INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)', [last!.name, last!.applied_at]);
    }
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('is 503 while the database does not answer', async () => {
    let refusing = false;
    const down = await createTestApp(backend, {
      wrapDatabase: (db) => ({
        ...db,
        query: <Row>(sql: string, params?: readonly unknown[]) =>
          refusing ? Promise.reject(new Error('connection refused')) : db.query<Row>(sql, params),
      }),
    });
    try {
      await listen(down);
      expect((await fetch(`${origin(down)}/ready`)).status).toBe(200);
      refusing = true;
      const response = await fetch(`${origin(down)}/ready`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'unavailable', reason: 'database-down' });
    } finally {
      down.app.server.closeAllConnections();
      await down.close();
    }
  });
});

describe.runIf(inject('redisUrl'))('the Redis circuit in metrics', () => {
  it('shows the breaker open after a failed read and closed once its probe answers, each transition counted once', async () => {
    const redisClients = new Map<string, Redis>();
    const t = await createTestApp(backends().at(-1)!, {
      redisUrl: inject('redisUrl')!,
      redisClients,
      env: { REDIS_BREAKER_FAILURES: '1', REDIS_BREAKER_PROBE_MS: '50' },
    });
    try {
      const user = await t.newUser();
      await until(() => t.cache.log.usable());
      const client = redisClients.get('cache')!;
      const mget = client.mget.bind(client);
      client.mget = (() => Promise.reject(new Error('READONLY injected'))) as unknown as typeof client.mget;
      try {
        // An id nothing holds: no tier in process answers it, so the read asks Redis.
        const read = await t.gql('query ($id: ID!) { node(id: $id) { id } }', { id: 'mem_neverexisted0001' }, { token: user.token });
        expect(read.data.node).toBeNull();
        expect(await t.metric('recall_cache_redis_circuit_open')).toBe(1);
        expect(await t.metric('recall_cache_redis_circuit_transitions_total', { to: 'open' })).toBe(1);
      } finally {
        client.mget = mget;
      }
      await expect.poll(() => t.metric('recall_cache_redis_circuit_open'), { timeout: 5_000, interval: 20 }).toBe(0);
      expect(await t.metric('recall_cache_redis_circuit_transitions_total', { to: 'closed' })).toBe(1);
      expect(await t.metric('recall_cache_redis_circuit_transitions_total', { to: 'open' })).toBe(1);
    } finally {
      await t.close();
    }
  });
});
