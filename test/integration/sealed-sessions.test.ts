import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCacheAside } from '../../src/cache/cache-aside.js';
import { createMemoryCache } from '../../src/cache/cache.js';
import { unlinkUnder } from '../../src/cache/redis-client.js';
import { createSealer, type Sealer } from '../../src/cache/sealer.js';
import { systemClock } from '../../src/clock.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, createTestDatabase } from '../helpers/test-database.js';
import { freePort, startRedisServer } from '../helpers/redis-server.js';

const VIEWER = '{ viewer { id email name role } }';
const backend = backends().at(-1)!;
const redisUrl = inject('redisUrl');
const newSecret = () => randomBytes(32).toString('base64');

const sessionKey = (t: TestApp, token: string) => t.cache.keys.session(createHash('sha256').update(token).digest('hex'));
/** The sealed payload of an envelope `<format>|<state>|<version>|<written at>|<payload>`, stored as a JSON string. */
const payloadOf = (raw: string) => JSON.parse(raw.split('|')[4]!) as string;
const withPayload = (raw: string, payload: string) => `${raw.split('|').slice(0, 4).join('|')}|${JSON.stringify(payload)}`;
const sessionSql = (statements: string[]) => statements.filter((sql) => /\bsessions\b/.test(sql));
const unreadable = (t: TestApp) => t.metric('recall_cache_unreadable_total', { kind: 'session' });

async function viewerOf(t: TestApp, user: TestUser) {
  const result = await t.gql(VIEWER, {}, { token: user.token });
  expect(result.errors).toBeUndefined();
  expect(result.data.viewer).toMatchObject({ id: user.id, email: user.email });
}

describe.runIf(redisUrl)('the sealed session cache in Redis', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl!);
  });
  afterAll(() => redis.disconnect());

  describe('one instance without L1, so that every request reads Redis', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(backend, { redisUrl: redisUrl!, env: { CACHE_L1_MAX_ENTRIES: '0' } });
    });
    afterAll(() => t.close());

    it('holds no email, user id, name, role, password hash or token in Redis, and authenticates from it with no SQL', async () => {
      const user = await t.newUser('Ada Lovelace');
      await viewerOf(t, user);
      const raw = (await redis.get(sessionKey(t, user.token)))!;
      expect(raw).toMatch(/^1\|v\|\d+\|\d+\|"[A-Za-z0-9_-]+"$/);
      const payload = Buffer.from(payloadOf(raw), 'base64url').toString('latin1');
      for (const secret of [user.email, user.id, 'Ada Lovelace', 'Lovelace', user.token, '"role"', 'USER', 'scrypt', '"email"']) {
        expect(raw).not.toContain(secret);
        expect(payload).not.toContain(secret);
      }
      expect(sessionSql(await t.countStatements(() => viewerOf(t, user)))).toEqual([]);

      // The user's own entry is sealed too, and no cached value holds a password hash.
      const [loaded] = await t.app.deps.sources.users.load([user.id], t.app.deps.cache.log.position());
      expect(loaded).toMatchObject({ id: user.id, email: user.email });
      expect(JSON.stringify(loaded)).not.toContain('scrypt');
      const userEntry = (await redis.get(`${t.app.deps.config.REDIS_KEY_PREFIX}user:${user.id}`))!;
      expect(userEntry).toMatch(/^1\|v\|\d+\|\d+\|"[A-Za-z0-9_-]+"$/);
      expect(userEntry).not.toContain(user.email);
    });

    it('counts a value with one byte flipped as a miss, answers from PostgreSQL and rewrites it', async () => {
      const user = await t.newUser();
      await viewerOf(t, user);
      const key = sessionKey(t, user.token);
      const raw = (await redis.get(key))!;
      const bytes = Buffer.from(payloadOf(raw), 'base64url');
      bytes[bytes.length - 3]! ^= 0x01;
      const tampered = withPayload(raw, bytes.toString('base64url'));
      await redis.set(key, tampered, 'KEEPTTL');

      const before = await unreadable(t);
      const statements = await t.countStatements(() => viewerOf(t, user));
      expect(await unreadable(t)).toBe(before + 1);
      expect(sessionSql(statements)).not.toEqual([]);
      const rewritten = (await redis.get(key))!;
      expect(rewritten).not.toBe(tampered);
      // The rewritten value opens: the next request needs no SQL and opens nothing badly.
      expect(sessionSql(await t.countStatements(() => viewerOf(t, user)))).toEqual([]);
      expect(await unreadable(t)).toBe(before + 1);
    });

    it("does not open one session's value under another session's key", async () => {
      const [one, other] = [await t.newUser(), await t.newUser()];
      await viewerOf(t, one);
      await viewerOf(t, other);
      const moved = (await redis.get(sessionKey(t, one.token)))!;
      await redis.set(sessionKey(t, other.token), moved, 'KEEPTTL');

      const before = await unreadable(t);
      // Had it opened, the other token would be served as the first user.
      await viewerOf(t, other);
      expect(await unreadable(t)).toBe(before + 1);
      expect(await redis.get(sessionKey(t, other.token))).not.toBe(moved);
    });

    it('keeps a user logged in when the Redis keys of this Recall are all deleted (as by FLUSHALL)', async () => {
      const user = await t.newUser();
      await viewerOf(t, user);
      await unlinkUnder(redis, t.cache.keys.prefix);
      expect(await redis.exists(sessionKey(t, user.token))).toBe(0);
      await viewerOf(t, user);
      await viewerOf(t, user);
      expect(await redis.exists(sessionKey(t, user.token))).toBe(1);
      expect(sessionSql(await t.countStatements(() => viewerOf(t, user)))).toEqual([]);
    });
  });

  describe('rotation of SESSION_SECRET', () => {
    const [secretA, secretB] = [randomBytes(32), randomBytes(32)];
    let a: TestApp;
    let rotated: TestApp;
    let stranger: TestApp;
    beforeAll(async () => {
      const prefix = `recall-test:${randomBytes(6).toString('hex')}:`;
      a = await createTestApp(backend, { redisUrl: redisUrl!, env: { REDIS_KEY_PREFIX: prefix, SESSION_SECRET: secretA.toString('base64') } });
      rotated = await createTestApp(backend, {
        redisUrl: redisUrl!,
        database: a.database,
        env: { REDIS_KEY_PREFIX: prefix, SESSION_SECRET: secretB.toString('hex'), SESSION_SECRET_PREVIOUS: `${newSecret()},${secretA.toString('base64')}` },
      });
      stranger = await createTestApp(backend, { redisUrl: redisUrl!, database: a.database, env: { REDIS_KEY_PREFIX: prefix, SESSION_SECRET: newSecret() } });
    });
    afterAll(async () => {
      await stranger.close();
      await rotated.close();
      await a.close();
    });

    it('opens values sealed under a previous secret with no SQL, and reseals them under the new one on their next write', async () => {
      const user = await a.newUser();
      await viewerOf(a, user);
      const key = sessionKey(a, user.token);
      const sealedUnderA = (await redis.get(key))!;
      const onlyA = createSealer({ current: secretA, previous: [] });
      expect(onlyA.open(payloadOf(sealedUnderA), key)).not.toBeNull();

      expect(sessionSql(await rotated.countStatements(() => viewerOf(rotated, user)))).toEqual([]);
      expect(await unreadable(rotated)).toBe(0);

      // The next write of the session: its once-a-minute touch.
      rotated.clock.advance(61_000);
      await viewerOf(rotated, user);
      const resealed = (await redis.get(key))!;
      expect(resealed).not.toBe(sealedUnderA);
      expect(onlyA.open(payloadOf(resealed), key)).toBeNull();
      expect(createSealer({ current: secretB, previous: [] }).open(payloadOf(resealed), key)).not.toBeNull();
    });

    it('counts a value sealed under an unknown secret as a miss and still answers', async () => {
      const user = await a.newUser();
      await viewerOf(a, user);
      const before = await unreadable(stranger);
      const statements = await stranger.countStatements(() => viewerOf(stranger, user));
      expect(await unreadable(stranger)).toBe(before + 1);
      expect(sessionSql(statements)).not.toEqual([]);
    });
  });

  it.runIf(inject('redisServer'))('keeps a user logged in while Redis is down and after it restarts empty', async () => {
    const port = await freePort();
    let server = await startRedisServer(port);
    const t = await createTestApp(backend, { redisUrl: server.url, env: { REDIS_BREAKER_PROBE_MS: '100' } });
    const health = async () => (await (await t.app.yoga.fetch('http://recall.test/health')).json()) as { checks: { redis: { circuit: string } } };
    try {
      const user = await t.newUser();
      await viewerOf(t, user);
      await server.stop();
      await viewerOf(t, user);
      server = await startRedisServer(port);
      await expect.poll(async () => (await health()).checks.redis.circuit, { timeout: 10_000, interval: 100 }).toBe('closed');
      await viewerOf(t, user);
      const probe = new Redis(server.url);
      try {
        await expect.poll(() => probe.exists(sessionKey(t, user.token)), { timeout: 5_000 }).toBe(1);
      } finally {
        probe.disconnect();
      }
    } finally {
      await t.close();
      await server.stop();
    }
  }, 60_000);
});

describe('opening sealed values in process', () => {
  it('opens an in-process entry once, however often it is read, and shares it frozen', async () => {
    const database = await createTestDatabase('pglite');
    const cache = createMemoryCache(database.config, { db: database.db, registry: new Registry(), logger: pino({ level: 'silent' }) });
    const sealer = createSealer({ current: randomBytes(32), previous: [] });
    const calls = { seal: 0, open: 0 };
    const counting: Sealer = {
      seal: (plaintext, boundTo) => (calls.seal++, sealer.seal(plaintext, boundTo)),
      open: (sealed, boundTo) => (calls.open++, sealer.open(sealed, boundTo)),
    };
    try {
      const aside = createCacheAside<string, { id: string; at: Date }>(cache, systemClock, pino({ level: 'silent' }), {
        kind: 'session',
        keyOf: (id) => `${cache.keys.prefix}session:${id}`,
        load: async (ids) => ids.map((id) => ({ id, at: new Date(0) })),
        versionOf: () => 1,
        ttlMs: () => 60_000,
        notFoundTtlMs: 1_000,
        sealer: counting,
      });
      const read = () => aside.load(['s1'], cache.log.position());
      expect(await read()).toEqual([{ id: 's1', at: new Date(0) }]);
      expect(calls).toEqual({ seal: 1, open: 0 });
      const [first] = await read();
      const [second] = await read();
      expect(calls).toEqual({ seal: 1, open: 1 });
      expect(second).toBe(first);
      expect(first!.at).toBeInstanceOf(Date);
      expect(Object.isFrozen(first)).toBe(true);
    } finally {
      await cache.close();
      await database.drop();
    }
  });
});
