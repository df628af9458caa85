import { Registry } from 'prom-client';
import type { Cache } from '../src/cache/cache.js';
import { createCacheMetrics } from '../src/cache/cache-metrics.js';
import { invalidationOf } from '../src/cache/invalidation.js';
import type { InvalidationLog } from '../src/cache/invalidation-log.js';
import { createCacheKeys } from '../src/cache/keys.js';

/**
 * A cache that never answers and never keeps anything: the baselines ("no cache", "DataLoader
 * only") run the same code with every lookup a miss and no load shared across requests.
 */
export function createNullCache(prefix: string): Cache {
  const keys = createCacheKeys(prefix);
  const log: InvalidationLog = {
    mode: 'memory',
    apply: async () => ({ position: 0, generation: 'none' }),
    position: () => ({ gen: 'none', pos: 0, exact: true }),
    observe: () => ({ gen: 'none', pos: 0, exact: true }),
    inProcessFresh: () => false,
    usable: () => false,
    regenerate: async () => 0,
    start: async () => undefined,
    flush: async () => undefined,
    close: async () => undefined,
  };
  return {
    mode: 'memory',
    keys,
    metrics: createCacheMetrics(new Registry()),
    entities: { read: async (keys) => keys.map(() => ({ envelope: null, tier: null })), fill: async () => undefined },
    responses: { get: async () => null, begin: () => async () => null, set: async () => false },
    log,
    persistedQueries: { get: async () => null, set: async () => undefined },
    // Loads in flight are never shared: each request pays for its own.
    inflight: { join: () => undefined, start: () => undefined, finish: () => undefined, clear: () => undefined },
    invalidationOf: (change) => invalidationOf(change, keys, new Date(), 0, 0),
    acquireLeases: async (leaseKeys) => leaseKeys.map(() => true),
    releaseLeases: async () => undefined,
    health: async () => ({ status: 'disabled' }),
    redis: null,
    forgetUser: async () => undefined,
    clear: async () => undefined,
    close: async () => undefined,
  };
}
