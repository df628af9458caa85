import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { discardChanges } from '../db/repositories/cache-outbox.js';
import type { Change } from '../domain/change.js';
import { createCacheMetrics, type CacheMetrics } from './cache-metrics.js';
import { createCircuitBreaker, type CircuitBreaker } from './circuit-breaker.js';
import { createFailOpenStore } from './fail-open-store.js';
import { invalidationOf, type Invalidation } from './invalidation.js';
import { createInflightLoads, createLocalInvalidationLog, type InflightLoads, type InvalidationLog } from './invalidation-log.js';
import { createCacheKeys, type CacheKeys } from './keys.js';
import { createL1Follower } from './l1-follower.js';
import { createMemoryStore, memoryTier } from './memory-store.js';
import { createOutboxAcks } from './outbox-acks.js';
import { createMemoryPersistedQueryStore, createTieredPersistedQueryStore, type PersistedQueryStore } from './persisted-query-store.js';
import { createRedisClient, unlinkUnder } from './redis-client.js';
import { createRedisInfoSampler } from './redis-info-sampler.js';
import { createRedisInvalidationLog, POSITION_TTL_MS } from './redis-invalidation-log.js';
import { createRedisPersistedQueryStore } from './redis-persisted-query-store.js';
import { createRedisResponseStore } from './redis-response-store.js';
import { createRedisStore } from './redis-store.js';
import { withResponseLookups } from './response-lookups.js';
import { createMemoryResponseStore, type ResponseStore } from './response-store.js';
import type { EntityCache } from './store.js';
import { createTieredResponseStore } from './tiered-response-store.js';
import { createTieredCache } from './tiered-store.js';

export interface RedisHealth {
  status: 'ok' | 'down' | 'disabled';
  latencyMs?: number;
  /** Open while Redis is skipped (it failed repeatedly, or is not yet synced with the outbox). */
  circuit?: 'open' | 'closed';
}

export interface Cache {
  readonly mode: 'redis' | 'memory';
  readonly keys: CacheKeys;
  readonly metrics: CacheMetrics;
  /** Entities, read through by the cache-aside loaders. */
  readonly entities: EntityCache;
  /** Whole query responses (the response cache's store). */
  readonly responses: ResponseStore;
  /** Where writes' invalidations go, and what every read's position comes from. */
  readonly log: InvalidationLog;
  /** Automatic persisted queries: query texts by their sha256. */
  readonly persistedQueries: PersistedQueryStore;
  readonly inflight: InflightLoads;
  /** The invalidation of a recorded change, as the log applies it. */
  invalidationOf(change: Change): Invalidation;
  /** Short locks across instances for expensive values; always granted without Redis. */
  acquireLeases(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
  releaseLeases(keys: readonly string[]): Promise<void>;
  health(): Promise<RedisHealth>;
  /** The cache's Redis connection, for operations (stats, scans); null without Redis. An escape hatch: not part of the cache contract. */
  readonly redis: Redis | null;
  /**
   * Unlinks the shared keys whose names carry a deleted user's id (scores, pages of memories,
   * budgets, limits), but for the guards of their deletion: nothing of a deleted user is kept
   * that is not needed.
   */
  forgetUser(userId: string): Promise<void>;
  /** Drops every key of this Recall (its key prefix) from every tier this instance reaches. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

export interface CacheDeps {
  db: Database;
  registry: Registry;
  logger: Logger;
  clock?: Clock;
  /** Makes the Redis connections (default: `createRedisClient`); tests wrap it to reach a connection. */
  redisClient?: typeof createRedisClient;
}

/** The in-process cache: the whole cache when REDIS_URL is unset. */
export function createMemoryCache(config: Config, deps: CacheDeps): Cache {
  const { db, clock = systemClock } = deps;
  const logger = deps.logger.child({ component: 'cache' });
  const metrics = createCacheMetrics(deps.registry);
  const keys = createCacheKeys(config.REDIS_KEY_PREFIX);
  const store = createMemoryStore({ maxEntries: config.CACHE_MEMORY_MAX_ENTRIES, tier: 'memory' });
  const responses = createMemoryResponseStore({ maxEntries: config.RESPONSE_CACHE_MAX_ENTRIES, clock });
  const log = createLocalInvalidationLog({
    store,
    responses,
    acks: createOutboxAcks({ db, logger }),
    discardOutbox: () => discardChanges(db),
  });
  const inflight = createInflightLoads();
  return {
    mode: 'memory',
    keys,
    metrics,
    entities: memoryTier(store),
    responses: withResponseLookups(responses, metrics, 'memory'),
    log,
    persistedQueries: createMemoryPersistedQueryStore(persistedQueryLimits(config)),
    inflight,
    invalidationOf: (change) => invalidationOf(change, keys, clock.now(), config.CACHE_TTL_SESSION_SECONDS * 1000, config.CACHE_TTL_DEFAULT_SECONDS * 1000),
    acquireLeases: async (leaseKeys) => leaseKeys.map(() => true),
    releaseLeases: async () => undefined,
    health: async () => ({ status: 'disabled' }),
    redis: null,
    // In process, such entries die with the process and cannot be read without their user.
    forgetUser: async () => undefined,
    async clear() {
      const { pos } = log.position();
      store.reset(pos);
      responses.reset(pos);
      inflight.clear();
    },
    close: () => log.close(),
  };
}

/** Redis shared by every instance, with small coherent L1s in front of it. */
export async function createRedisCache(config: Config, deps: CacheDeps): Promise<Cache> {
  const { db, clock = systemClock, redisClient = createRedisClient } = deps;
  const url = config.REDIS_URL!;
  const logger = deps.logger.child({ component: 'cache' });
  const metrics = createCacheMetrics(deps.registry);
  const keys = createCacheKeys(config.REDIS_KEY_PREFIX);
  const client = redisClient({ url, name: 'cache', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, logger });
  const subscriber = redisClient({ url, name: 'invalidations', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, logger, offlineQueue: true });
  const redis = createRedisStore(client, keys, metrics);
  const l1TtlMs = config.CACHE_L1_TTL_SECONDS * 1000;
  const l1 = config.CACHE_L1_MAX_ENTRIES > 0 ? createMemoryStore({ maxEntries: config.CACHE_L1_MAX_ENTRIES, tier: 'l1', maxTtlMs: l1TtlMs }) : null;
  const responseL1 =
    config.RESPONSE_CACHE_L1_MAX_ENTRIES > 0 ? createMemoryResponseStore({ maxEntries: config.RESPONSE_CACHE_L1_MAX_ENTRIES, clock }) : null;
  const sessionTtlMs = config.CACHE_TTL_SESSION_SECONDS * 1000;
  const derive = (change: Change) => invalidationOf(change, keys, clock.now(), sessionTtlMs, config.CACHE_TTL_DEFAULT_SECONDS * 1000);

  const applyLocally = (invalidation: Invalidation, position: number) => {
    if (invalidation.resetL1?.includes('entities')) l1?.reset(position);
    if (invalidation.resetL1?.includes('responses')) responseL1?.reset(position);
    l1?.invalidate(invalidation.writes, position);
    responseL1?.invalidate(invalidation.tags, position);
  };
  const follower = createL1Follower({
    subscriber,
    client,
    channel: keys.invalidationChannel,
    logKey: keys.log,
    apply: applyLocally,
    reset: (position) => {
      l1?.reset(position);
      responseL1?.reset(position);
    },
    expectedGeneration: () => log.generation(),
    onRegression: () => log.regressed(),
    logger,
  });

  let breaker: CircuitBreaker | undefined;
  const log = createRedisInvalidationLog({
    client,
    keys,
    db,
    acks: createOutboxAcks({ db, logger }),
    follower,
    breaker: () => breaker!,
    applyLocally,
    invalidationOf: derive,
    staleAfterMs: longestCacheLifetimeMs(config) + 10 * 60_000,
    writeWaitMs: config.CACHE_WRITE_WAIT_MS,
    address: redisAddress(url),
    probeIntervalMs: config.REDIS_BREAKER_PROBE_MS,
    metrics,
    logger,
    clock,
  });
  breaker = createCircuitBreaker({
    failureThreshold: config.REDIS_BREAKER_FAILURES,
    probeIntervalMs: config.REDIS_BREAKER_PROBE_MS,
    probe: () => redis.ping(),
    onChange: (open) => {
      metrics.circuitOpen.set(open ? 1 : 0);
      metrics.circuitTransitions.inc({ to: open ? 'open' : 'closed' });
    },
    logger,
  });
  const info = createRedisInfoSampler({ client, registry: deps.registry, logger });

  const l2 = createFailOpenStore({ redis, breaker: () => breaker!, metrics, logger, onOtherGeneration: log.generationChanged });
  const entities = createTieredCache({ l1, l2, l1TtlMs, log, l1Listening: follower.isListening });
  const shared = createRedisResponseStore({
    client,
    keys,
    breaker: () => breaker!,
    usable: log.usable,
    onOtherGeneration: log.generationChanged,
    metrics,
    logger,
    clock,
  });
  const responses = responseL1
    ? createTieredResponseStore({ l1: responseL1, l2: shared, l1TtlMs, log, l1Listening: follower.isListening, clock, metrics })
    : withResponseLookups(shared, metrics, 'redis');

  const persistedQueries = createTieredPersistedQueryStore(
    createMemoryPersistedQueryStore(persistedQueryLimits(config)),
    createRedisPersistedQueryStore({
      client,
      keys,
      breaker: () => breaker!,
      ttlMs: persistedQueryLimits(config).ttlMs,
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      metrics,
      logger,
    }),
  );

  return {
    mode: 'redis',
    keys,
    metrics,
    entities,
    responses,
    log,
    persistedQueries,
    inflight: createInflightLoads(),
    invalidationOf: derive,
    async acquireLeases(leaseKeys, ttlMs) {
      if (!log.usable()) return leaseKeys.map(() => true);
      return redis.acquireLeases(leaseKeys, 'held', ttlMs).catch((error: unknown) => {
        metrics.errors.inc({ tier: 'redis', operation: 'lease' });
        logger.debug({ err: error }, 'could not take leases; computing without them');
        return leaseKeys.map(() => true);
      });
    },
    async releaseLeases(leaseKeys) {
      await redis.releaseLeases(leaseKeys).catch((error: unknown) => {
        metrics.errors.inc({ tier: 'redis', operation: 'lease' });
        logger.debug({ err: error }, 'could not release leases; they expire on their own');
      });
    },
    async health() {
      const started = performance.now();
      // Open while Redis is skipped: after repeated failures, or until it is synced with the outbox.
      const circuit = log.usable() ? 'closed' : 'open';
      try {
        await redis.ping();
        return { status: 'ok', latencyMs: elapsedMs(started), circuit };
      } catch {
        return { status: 'down', latencyMs: elapsedMs(started), circuit };
      }
    },
    redis: client,
    async forgetUser(userId) {
      // The user's "gone" entry and the invalidation positions stay: they keep a read that began
      // before the deletion from putting the user back (they hold no data, and expire).
      const guard = (key: string) => key === keys.user(userId) || key.startsWith(keys.entityPosition(keys.prefix)) || key.startsWith(keys.responsePosition(''));
      await unlinkUnder(client, keys.prefix, (key) => key.includes(userId) && !guard(key)).catch((error: unknown) => {
        metrics.errors.inc({ tier: 'redis', operation: 'forget' });
        logger.warn({ err: error }, 'could not unlink the keys of a deleted user; they expire on their own');
      });
    },
    async clear() {
      await unlinkUnder(client, keys.prefix);
      const { pos } = log.position();
      l1?.reset(pos);
      responseL1?.reset(pos);
    },
    async close() {
      await log.close();
      breaker!.stop();
      info.stop();
      subscriber.disconnect();
      client.disconnect();
    },
  };
}

/** The cache of this deployment, started: Redis when REDIS_URL is set, else in process. */
export async function createCache(config: Config, deps: CacheDeps): Promise<Cache> {
  const cache = config.REDIS_URL ? await createRedisCache(config, deps) : createMemoryCache(config, deps);
  await cache.log.start();
  return cache;
}

function persistedQueryLimits(config: Config) {
  return { maxBytes: config.APQ_MEMORY_MAX_BYTES, ttlMs: config.APQ_TTL_SECONDS * 1000 };
}

/**
 * The longest any cached entry can live: past it, an invalidation that never reached Redis no
 * longer matters, since whatever it would have superseded has expired.
 */
function longestCacheLifetimeMs(config: Config): number {
  const seconds = [
    config.CACHE_TTL_MEMORY_SECONDS,
    config.CACHE_TTL_SCORE_SECONDS,
    config.CACHE_TTL_SESSION_SECONDS,
    config.CACHE_TTL_DEFAULT_SECONDS,
    config.RESPONSE_CACHE_TTL_SECONDS,
    config.RESPONSE_CACHE_TTL_MEMORY_SECONDS ?? 0,
    config.RESPONSE_CACHE_TTL_SCORE_SECONDS ?? 0,
    config.RESPONSE_CACHE_TTL_VIEWER_SECONDS ?? 0,
  ];
  return Math.max(...seconds.map((value) => value * 1000), POSITION_TTL_MS);
}

/** Where a redis:// or rediss:// URL points (IPv6 without its brackets). */
function redisAddress(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port: Number(parsed.port || 6379) };
}

const elapsedMs = (started: number) => Math.round((performance.now() - started) * 100) / 100;
