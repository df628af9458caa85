import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startRedisServer } from '../helpers/redis-server.js';
import { listen, openEventStream, overWebSocket, subscribeOverWebSocket, until, webSocketClient } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

const INVALIDATIONS = `subscription { cacheInvalidated { id reason } }`;
const CAP_MESSAGE = /at most \d+ concurrent subscriptions per user \(MAX_SUBSCRIPTIONS_PER_USER\)/;

type EventStream = Awaited<ReturnType<typeof openEventStream>>;

/** A subscription over SSE, as a bare client sees it: the status, and the stream to read or close. */
const openSse = (url: string, user: TestUser): Promise<EventStream> => openEventStream(url, { token: user.token, query: INVALIDATIONS });

/** What a refused SSE subscription says: a JSON error, not a stream (so that an EventSource stops). */
async function refusalOf(stream: EventStream) {
  expect(stream.response.status).toBe(429);
  expect(stream.response.headers.get('content-type')).toMatch(/^application\/json/);
  return (await stream.response.json()).errors[0];
}

async function makeAdmin(t: TestApp, user: TestUser): Promise<TestUser> {
  await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [user.id]);
  return { ...user, token: await t.login(user) };
}

const refusals = (t: TestApp, counted: 'shared' | 'local') => t.metric('recall_subscriptions_refused_total', { counted });

function closeServer(t: TestApp) {
  t.app.server.closeAllConnections();
  t.app.server.close();
}

describe.each(deployments())('the subscription cap on one instance ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(backend, { ...(redisUrl ? { redisUrl } : {}), env: { MAX_SUBSCRIPTIONS_PER_USER: '3' } });
    url = await listen(t);
  });
  afterAll(async () => {
    closeServer(t);
    await t.close();
  });

  it('refuses the subscription over the cap, over SSE with 429 and over WebSocket with the socket kept; closing one frees a slot', async () => {
    const user = await t.newUser();
    const other = await t.newUser();
    const client = webSocketClient(url, user.token);
    let socketClosed = false;
    client.on('closed', () => (socketClosed = true));
    const [first, second] = [await openSse(url, user), await openSse(url, user)];
    const overWs = await subscribeOverWebSocket(t, client, INVALIDATIONS);
    const open = [first, second];
    try {
      expect([first.response.status, second.response.status]).toEqual([200, 200]);
      const refusedBefore = await refusals(t, redisUrl ? 'shared' : 'local');

      const error = await refusalOf(await openSse(url, user));
      expect(error.message).toMatch(CAP_MESSAGE);
      expect(error.message).toContain('at most 3');
      expect(error.extensions).toEqual({ code: 'RATE_LIMITED', limit: 3 });

      // Over WebSocket the same error ends that operation only; the socket goes on serving.
      const overWsRefused = await overWebSocket(client, INVALIDATIONS);
      expect(overWsRefused.errors).toEqual([error]);
      expect((await overWebSocket(client, '{ viewer { id } }')).data.viewer.id).toBe(user.id);
      expect(socketClosed).toBe(false);
      expect(await refusals(t, redisUrl ? 'shared' : 'local')).toBe(refusedBefore + 2);

      // Another user has slots of their own.
      const theirs = await openSse(url, other);
      open.push(theirs);
      expect(theirs.response.status).toBe(200);

      // Closing one gives its slot back, and the next subscription opens.
      const streams = t.events.streams.size;
      first.close();
      open.shift();
      await until(() => t.events.streams.size === streams - 1);
      await expect.poll(async () => {
        const next = await openSse(url, user);
        if (next.response.status === 200) open.push(next);
        return next.response.status;
      }).toBe(200);
      // And the cap holds again.
      expect((await refusalOf(await openSse(url, user))).extensions.code).toBe('RATE_LIMITED');
    } finally {
      for (const stream of open) stream.close();
      await overWs.close();
      await client.dispose();
    }
    await until(() => t.events.streams.size === 0);
  });

  it('admits exactly the cap of 50 concurrent attempts, and gives every slot back', async () => {
    const user = await t.newUser();
    const attempts = await Promise.all(Array.from({ length: 50 }, () => openSse(url, user)));
    try {
      const statuses = attempts.map((stream) => stream.response.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(3);
      expect(statuses.filter((status) => status === 429)).toHaveLength(47);
      expect(t.events.streams.size).toBe(3);
    } finally {
      for (const stream of attempts) stream.close();
    }
    await until(() => t.events.streams.size === 0);
    if (redisUrl) {
      const redis = new Redis(redisUrl);
      try {
        await expect.poll(() => redis.zcard(t.cache.keys.subscriptions(`user:${user.id}`))).toBe(0);
      } finally {
        redis.disconnect();
      }
    }
  });

  it('does not cap admins', async () => {
    const admin = await makeAdmin(t, await t.newUser('Admin'));
    const streams = await Promise.all(Array.from({ length: 6 }, () => openSse(url, admin)));
    try {
      expect(streams.map((stream) => stream.response.status)).toEqual(Array(6).fill(200));
    } finally {
      for (const stream of streams) stream.close();
    }
    await until(() => t.events.streams.size === 0);
  });
});

it('counts per process without Redis: two embedded instances each admit the cap', async () => {
  const a = await createTestApp('pglite', { env: { MAX_SUBSCRIPTIONS_PER_USER: '2' } });
  const b = await createTestApp('pglite', { env: { MAX_SUBSCRIPTIONS_PER_USER: '2' }, database: a.database });
  const open: EventStream[] = [];
  try {
    const [urlA, urlB] = [await listen(a), await listen(b)];
    const user = await a.newUser();
    for (const url of [urlA, urlA, urlB, urlB]) open.push(await openSse(url, user));
    expect(open.map((stream) => stream.response.status)).toEqual([200, 200, 200, 200]);
    expect((await refusalOf(await openSse(urlA, user))).extensions.code).toBe('RATE_LIMITED');
    expect((await refusalOf(await openSse(urlB, user))).extensions.code).toBe('RATE_LIMITED');
  } finally {
    for (const stream of open) stream.close();
    closeServer(b);
    closeServer(a);
    await b.close();
    await a.close();
  }
});

describe.runIf(inject('redisUrl'))('the subscription cap across instances', () => {
  const redisUrl = inject('redisUrl')!;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(() => redis.disconnect());

  /** Two instances of one deployment (one database, one Redis, a fresh prefix), listening. */
  async function twoInstances(env: Record<string, string>) {
    const shared = { redisUrl, env: { REDIS_KEY_PREFIX: `recall-test:${Math.random().toString(36).slice(2)}:`, ...env } };
    const a = await createTestApp(backends().at(-1)!, shared);
    const b = await createTestApp(backends().at(-1)!, { ...shared, database: a.database });
    const [urlA, urlB] = [await listen(a), await listen(b)];
    return {
      a,
      b,
      urlA,
      urlB,
      async close() {
        closeServer(b);
        closeServer(a);
        await b.close();
        await a.close();
      },
    };
  }

  it('holds across instances and transports: 2 SSE on A and 1 WebSocket on B, then a 4th on either is refused', async () => {
    const { a, b, urlA, urlB, close } = await twoInstances({ MAX_SUBSCRIPTIONS_PER_USER: '3' });
    const user = await a.newUser();
    const key = a.cache.keys.subscriptions(`user:${user.id}`);
    const client = webSocketClient(urlB, user.token);
    const open: EventStream[] = [];
    try {
      open.push(await openSse(urlA, user), await openSse(urlA, user));
      const overWs = await subscribeOverWebSocket(b, client, INVALIDATIONS);
      expect(open.map((stream) => stream.response.status)).toEqual([200, 200]);
      expect(await redis.zcard(key)).toBe(3);

      expect((await refusalOf(await openSse(urlA, user))).extensions.code).toBe('RATE_LIMITED');
      expect((await refusalOf(await openSse(urlB, user))).extensions.code).toBe('RATE_LIMITED');
      const overWsRefused = await overWebSocket(client, INVALIDATIONS);
      expect(overWsRefused.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', limit: 3 });
      expect((await refusals(a, 'shared')) + (await refusals(b, 'shared'))).toBe(3);

      // The WebSocket subscription on B ends: its slot is free for an SSE subscription on A.
      await overWs.close();
      await expect.poll(() => redis.zcard(key)).toBe(2);
      const next = await openSse(urlA, user);
      open.push(next);
      expect(next.response.status).toBe(200);
      expect((await refusalOf(await openSse(urlB, user))).extensions.code).toBe('RATE_LIMITED');
    } finally {
      for (const stream of open) stream.close();
      await client.dispose();
      await close();
    }
  });

  it('admits exactly the cap of 50 concurrent attempts split across two instances', async () => {
    const { a, b, urlA, urlB, close } = await twoInstances({ MAX_SUBSCRIPTIONS_PER_USER: '7' });
    const user = await a.newUser();
    const attempts = await Promise.all(Array.from({ length: 50 }, (_, i) => openSse(i % 2 === 0 ? urlA : urlB, user)));
    try {
      const statuses = attempts.map((stream) => stream.response.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(7);
      expect(statuses.filter((status) => status === 429)).toHaveLength(43);
      expect(a.events.streams.size + b.events.streams.size).toBe(7);
      expect(await redis.zcard(a.cache.keys.subscriptions(`user:${user.id}`))).toBe(7);
    } finally {
      for (const stream of attempts) stream.close();
      await close();
    }
  });

  it("gives a crashed instance's slots back once their leases run out, and keeps a live instance's, which it renews", async () => {
    const { a, b, urlA, urlB, close } = await twoInstances({ MAX_SUBSCRIPTIONS_PER_USER: '2', SUBSCRIPTION_LEASE_SECONDS: '3' });
    const user = await a.newUser();
    const key = a.cache.keys.subscriptions(`user:${user.id}`);
    // What an instance that crashed holding a subscription leaves: a slot nobody renews.
    await redis.zadd(key, String(b.clock.now().getTime() + 3_000), 'crashed-instance:1');
    const open: EventStream[] = [];
    try {
      open.push(await openSse(urlA, user));
      expect(open[0]!.response.status).toBe(200);
      expect((await refusalOf(await openSse(urlB, user))).extensions.code).toBe('RATE_LIMITED');

      // Both instances' clocks pass both leases; A renews its own (every second here).
      for (const t of [a, b]) t.clock.advance(10_000);
      const renewedBy = a.clock.now().getTime();
      await expect.poll(() => redis.zcount(key, `(${renewedBy}`, '+inf'), { timeout: 5_000 }).toBe(1);

      const onB = await openSse(urlB, user);
      open.push(onB);
      expect(onB.response.status).toBe(200);
      expect(await redis.zscore(key, 'crashed-instance:1')).toBeNull();
      expect((await refusalOf(await openSse(urlB, user))).extensions.code).toBe('RATE_LIMITED');
    } finally {
      for (const stream of open) stream.close();
      await close();
    }
  });
});

it.runIf(inject('redisServer'))('falls back to counting in process while Redis is frozen or down, without error or stall, and renews its slots into Redis once it is back', async () => {
  const port = await freePort();
  let server = await startRedisServer(port);
  const t = await createTestApp(backends().at(-1)!, {
    redisUrl: server.url,
    env: { MAX_SUBSCRIPTIONS_PER_USER: '2', SUBSCRIPTION_LEASE_SECONDS: '3', REDIS_BREAKER_PROBE_MS: '100' },
  });
  const redis = new Redis(server.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  redis.on('error', () => undefined);
  const open: EventStream[] = [];
  const url = await listen(t);
  const user = await t.newUser();
  const key = t.cache.keys.subscriptions(`user:${user.id}`);
  const timed = async () => {
    const started = performance.now();
    const stream = await openSse(url, user);
    return { stream, ms: performance.now() - started };
  };
  try {
    open.push(await openSse(url, user));
    expect(await redis.zcard(key)).toBe(1);

    // Frozen: every Redis command times out (250 ms); the instance counts the slots it holds.
    server.signal('SIGSTOP');
    const second = await timed();
    open.push(second.stream);
    expect(second.stream.response.status).toBe(200);
    const third = await timed();
    expect((await refusalOf(third.stream)).extensions.code).toBe('RATE_LIMITED');
    expect(await t.metric('recall_subscriptions_refused_total', { counted: 'local' })).toBe(1);
    // Admission, the session and the slot each wait one command timeout at most.
    expect(Math.max(second.ms, third.ms)).toBeLessThan(2_000);

    // Down: closing one gives its slot back in process, and a new one opens.
    await server.stop();
    open.shift()!.close();
    await until(() => t.events.streams.size === 1);
    const again = await timed();
    open.push(again.stream);
    expect(again.stream.response.status).toBe(200);
    expect(again.ms).toBeLessThan(2_000);
    expect((await refusalOf(await openSse(url, user))).extensions.code).toBe('RATE_LIMITED');

    // Back (empty): the renewals put this instance's two slots in Redis, so the cap is shared again.
    server = await startRedisServer(port);
    await expect.poll(() => redis.zcard(key).catch(() => -1), { timeout: 10_000 }).toBe(2);
    expect((await refusalOf(await openSse(url, user))).extensions.code).toBe('RATE_LIMITED');
    expect(await t.metric('recall_subscriptions_refused_total', { counted: 'shared' })).toBeGreaterThanOrEqual(1);
  } finally {
    for (const stream of open) stream.close();
    redis.disconnect();
    closeServer(t);
    await t.close();
    await server.stop();
  }
}, 60_000);
