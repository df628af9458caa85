import { bindHistogram } from '../observability/bound-labels.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { ResponseStore } from './response-store.js';
import type { CacheTier } from './store.js';

export type ResponseLookups = ReturnType<typeof responseLookups>;

/** One tier's lookups of whole responses, counted (hit or miss) and timed under kind `response`: the children bound once. */
export function responseLookups(metrics: CacheMetrics, tier: CacheTier) {
  const labels = { kind: 'response', tier };
  const duration = bindHistogram(metrics.lookupDuration, labels);
  const hit = metrics.lookups.bind({ ...labels, result: 'hit' });
  const miss = metrics.lookups.bind({ ...labels, result: 'miss' });
  /** `started`: when the lookup began, if before `get` is called (see `ResponseStore.begin`). */
  return async function lookUp<T>(get: () => Promise<T | null>, started = performance.now()): Promise<T | null> {
    const found = await get().finally(() => duration.observe((performance.now() - started) / 1000));
    (found ? hit : miss).inc();
    return found;
  };
}

/** A single-tier response store (in process, or Redis without an L1) whose lookups are counted and timed. */
export function withResponseLookups(store: ResponseStore, metrics: CacheMetrics, tier: CacheTier): ResponseStore {
  const lookUp = responseLookups(metrics, tier);
  return {
    get: (id, read) => lookUp(() => store.get(id, read)),
    begin(id) {
      const started = performance.now();
      const finish = store.begin(id);
      return (read) => lookUp(() => finish(read), started);
    },
    set: (id, response, tags, ttlMs, read) => store.set(id, response, tags, ttlMs, read),
  };
}
