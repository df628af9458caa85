import { Registry } from 'prom-client';
import type { Cache } from '../src/cache/cache.js';
import { createCacheMetrics } from '../src/cache/cache-metrics.js';
import { createCacheKeys } from '../src/cache/keys.js';

/**
 * A cache that never answers and never keeps anything: the baselines ("no cache", "DataLoader
 * only") run the same code with every lookup a miss and no load shared across requests.
 */
export function createNullCache(prefix: string): Cache {
  return {
    mode: 'memory',
    keys: createCacheKeys(prefix),
    metrics: createCacheMetrics(new Registry()),
    tiers: { read: async (keys) => keys.map(() => ({ envelope: null, tier: null })), write: async () => undefined },
    // Loads in flight are never shared: each request pays for its own.
    inflight: new (class extends Map<string, Promise<unknown>> {
      override set() {
        return this;
      }
    })(),
    responses: { get: async () => null, set: async () => undefined, invalidate: async () => undefined, clear: async () => undefined },
    acquireLeases: async (keys) => keys.map(() => true),
    releaseLeases: async () => undefined,
    invalidate: async () => undefined,
    health: async () => ({ status: 'disabled' }),
    clear: async () => undefined,
    close: async () => undefined,
  };
}
