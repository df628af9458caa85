import type { CacheMetrics } from './cache-metrics.js';
import type { ResponseStore } from './response-store.js';
import type { CacheTier } from './store.js';

/** Runs one tier's lookup of a whole response, counting it (hit or miss) and timing it under kind `response`. */
export async function lookUpResponse<T>(metrics: CacheMetrics, tier: CacheTier, get: () => Promise<T | null>): Promise<T | null> {
  const stop = metrics.lookupDuration.startTimer({ kind: 'response', tier });
  const found = await get().finally(stop);
  metrics.lookups.inc({ kind: 'response', tier, result: found ? 'hit' : 'miss' });
  return found;
}

/** A single-tier response store (in process, or Redis without an L1) whose lookups are counted and timed. */
export function withResponseLookups(store: ResponseStore, metrics: CacheMetrics, tier: CacheTier): ResponseStore {
  return {
    get: (id, read) => lookUpResponse(metrics, tier, () => store.get(id, read)),
    set: (id, response, tags, ttlMs, read) => store.set(id, response, tags, ttlMs, read),
  };
}
