import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { createCacheMetrics, type CacheMetrics } from './cache-metrics.js';
import { createCircuitBreaker, type CircuitBreaker } from './circuit-breaker.js';
import { createFailOpenStore } from './fail-open-store.js';
import { createInvalidationBus, type InvalidationBus } from './invalidation-bus.js';
import { createCacheKeys, type CacheKeys, type CacheKind } from './keys.js';
import { createMemoryStore, memoryTier } from './memory-store.js';
import { createRedisResponseStore } from './redis-response-store.js';
import { createTieredResponseStore } from './tiered-response-store.js';
import { createMemoryResponseStore, type ResponseStore } from './response-store.js';
import { systemClock, type Clock } from '../clock.js';
import { createRedisClient } from './redis-client.js';
import { createRedisStore } from './redis-store.js';
import { singleTier, type CacheWrite, type TieredCache } from './store.js';
import { createTieredCache } from './tiered-store.js';

export interface RedisHealth {
  status: 'ok' | 'down' | 'disabled';
  latencyMs?: number;
  circuit?: 'open' | 'closed';
}

export interface Cache {
  readonly mode: 'redis' | 'memory';
  readonly keys: CacheKeys;
  readonly metrics: CacheMetrics;
  readonly tiers: TieredCache;
  /** Whole query responses (the response cache's store). */
  readonly responses: ResponseStore;
  /** Loads in flight in this process, by cache key, so that concurrent misses share one load. */
  readonly inflight: Map<string, Promise<unknown>>;
  /** Short locks across instances for expensive values; always granted without Redis. */
  acquireLeases(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
  releaseLeases(keys: readonly string[]): Promise<void>;
  /**
   * Supersedes what a committed write made stale, in Redis and in this instance's L1, and has
   * every other instance apply the same to its L1: tombstones, "not found" for deletions, or
   * the new value itself (write-through). All are version-guarded. Never throws.
   */
  invalidate(kind: CacheKind, writes: CacheWrite[]): Promise<void>;
  health(): Promise<RedisHealth>;
  /** Drops every entry of this Recall (its key prefix) from every tier this instance reaches. */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** The in-process cache: the whole cache when REDIS_URL is unset. */
export function createMemoryCache(config: Config, registry: Registry, clock: Clock = systemClock): Cache {
  const metrics = createCacheMetrics(registry);
  const store = createMemoryStore({ maxEntries: config.CACHE_MEMORY_MAX_ENTRIES, tier: 'memory' });
  const tiers = memoryTier(store);
  const responses = createMemoryResponseStore({ maxEntries: config.RESPONSE_CACHE_MAX_ENTRIES, clock, quietMs: quietMs(config) });
  return {
    mode: 'memory',
    keys: createCacheKeys(config.REDIS_KEY_PREFIX),
    metrics,
    tiers,
    responses,
    inflight: new Map(),
    acquireLeases: async (keys) => keys.map(() => true),
    releaseLeases: async () => undefined,
    async invalidate(kind, writes) {
      metrics.invalidations.inc({ kind }, writes.length);
      forgetInflight(this.inflight, writes);
      await tiers.write(writes);
    },
    health: async () => ({ status: 'disabled' }),
    async clear() {
      store.clear();
      this.inflight.clear();
      await responses.clear();
    },
    close: async () => undefined,
  };
}

/** Redis shared by every instance, with a small coherent L1 in front of it. */
export async function createRedisCache(
  config: Config,
  registry: Registry,
  logger: Logger,
  clock: Clock = systemClock,
): Promise<Cache> {
  const url = config.REDIS_URL!;
  const log = logger.child({ component: 'cache' });
  const metrics = createCacheMetrics(registry);
  const keys = createCacheKeys(config.REDIS_KEY_PREFIX);
  const client = createRedisClient({ url, name: 'cache', commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, logger: log });
  const subscriber = createRedisClient({
    url,
    name: 'invalidations',
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    logger: log,
    offlineQueue: true,
  });
  const redis = createRedisStore(client, metrics);
  const l1TtlMs = config.CACHE_L1_TTL_SECONDS * 1000;
  const l1 =
    config.CACHE_L1_MAX_ENTRIES > 0
      ? createMemoryStore({ maxEntries: config.CACHE_L1_MAX_ENTRIES, tier: 'l1', maxTtlMs: l1TtlMs })
      : null;

  const responseL1 =
    config.RESPONSE_CACHE_L1_MAX_ENTRIES > 0
      ? createMemoryResponseStore({ maxEntries: config.RESPONSE_CACHE_L1_MAX_ENTRIES, clock, quietMs: quietMs(config) })
      : null;

  let l1Epoch = 0;
  function dropL1() {
    l1Epoch += 1;
    l1?.clear();
    void responseL1?.clear();
  }

  let breaker: CircuitBreaker | undefined;
  const l2 = createFailOpenStore({
    redis,
    breaker: () => breaker!,
    metrics,
    logger: log,
    flushNamespace: () => flushNamespace(client, keys.prefix),
  });
  breaker = createCircuitBreaker({
    failureThreshold: config.REDIS_BREAKER_FAILURES,
    probeIntervalMs: config.REDIS_BREAKER_PROBE_MS,
    probe: () => redis.ping(),
    beforeClose: () => l2.replayMissedInvalidations(),
    onChange: (open) => {
      metrics.circuitOpen.set(open ? 1 : 0);
      // Other instances' invalidations may have been missed while Redis was away.
      if (!open) dropL1();
    },
    logger: log,
  });
  const inflight = new Map<string, Promise<unknown>>();
  const bus: InvalidationBus = createInvalidationBus({
    publisher: client,
    subscriber,
    channel: keys.invalidationChannel,
    instanceId: randomUUID(),
    onRemote: async ({ writes, responses: stale }) => {
      forgetInflight(inflight, writes);
      await l1?.putMany(writes);
      await responseL1?.invalidate(stale);
    },
    onResync: dropL1,
    echoTimeoutMs: 100,
    metrics,
    logger: log,
  });
  const tiers = l1 ? createTieredCache({ l1, l2, l1TtlMs, l1Coherent: bus.isListening }) : singleTier(l2);

  const sharedResponses = createRedisResponseStore({
    client,
    prefix: keys.prefix,
    breaker: () => breaker!,
    metrics,
    logger: log,
    clock,
    quietMs: quietMs(config),
  });
  const responses = responseL1
    ? createTieredResponseStore({
        l1: responseL1,
        l2: sharedResponses,
        l1TtlMs,
        coherent: () => bus.isListening() && !breaker!.isOpen,
        epoch: () => l1Epoch,
        broadcast: (stale) => bus.publish({ writes: [], responses: stale }),
        clock,
        metrics,
      })
    : sharedResponses;

  return {
    mode: 'redis',
    keys,
    metrics,
    tiers,
    responses,
    inflight,
    async acquireLeases(leaseKeys, ttlMs) {
      if (breaker!.isOpen) return leaseKeys.map(() => true);
      return redis.acquireLeases(leaseKeys, 'held', ttlMs).catch((error: unknown) => {
        metrics.errors.inc({ tier: 'redis', operation: 'lease' });
        log.debug({ err: error }, 'could not take leases; computing without them');
        return leaseKeys.map(() => true);
      });
    },
    async releaseLeases(leaseKeys) {
      await redis.releaseLeases(leaseKeys).catch((error: unknown) => {
        metrics.errors.inc({ tier: 'redis', operation: 'lease' });
        log.debug({ err: error }, 'could not release leases; they expire on their own');
      });
    },
    async invalidate(kind, writes) {
      metrics.invalidations.inc({ kind }, writes.length);
      forgetInflight(inflight, writes);
      await tiers.write(writes);
      await bus.publish({ writes, responses: [] });
    },
    async health() {
      const started = performance.now();
      try {
        await redis.ping();
        return { status: 'ok', latencyMs: elapsedMs(started), circuit: breaker!.isOpen ? 'open' : 'closed' };
      } catch {
        return { status: 'down', latencyMs: elapsedMs(started), circuit: breaker!.isOpen ? 'open' : 'closed' };
      }
    },
    async clear() {
      await flushNamespace(client, keys.prefix);
      l1?.clear();
      await responseL1?.clear();
      inflight.clear();
    },
    async close() {
      breaker!.stop();
      subscriber.disconnect();
      client.disconnect();
    },
  };
}

export function createCache(config: Config, registry: Registry, logger: Logger, clock: Clock = systemClock): Promise<Cache> {
  return config.REDIS_URL
    ? createRedisCache(config, registry, logger, clock)
    : Promise.resolve(createMemoryCache(config, registry, clock));
}

/** Longer than any query can run: its statements are cut off at the statement timeout. */
const quietMs = (config: Config) => config.DATABASE_STATEMENT_TIMEOUT_MS + 1_000;

async function flushNamespace(client: Redis, prefix: string): Promise<void> {
  const stream = client.scanStream({ match: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, count: 1000 });
  for await (const batch of stream as AsyncIterable<string[]>) {
    if (batch.length > 0) await client.unlink(...batch);
  }
}

/** A read that starts after a write must not join a load that started before it. */
function forgetInflight(inflight: Map<string, Promise<unknown>>, writes: readonly CacheWrite[]): void {
  for (const { key } of writes) {
    for (const flightKey of inflight.keys()) {
      if (flightKey === key || flightKey.startsWith(`${key}#`)) inflight.delete(flightKey);
    }
  }
}

const elapsedMs = (started: number) => Math.round((performance.now() - started) * 100) / 100;
