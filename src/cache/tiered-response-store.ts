import type { Clock } from '../clock.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { RedisResponseStore } from './redis-response-store.js';
import { withRemainingMaxAge, type CacheEntityRecord, type MemoryResponseStore, type ResponseStore } from './response-store.js';

export interface TieredResponseStoreOptions {
  l1: MemoryResponseStore;
  l2: RedisResponseStore;
  /** Longest an L1 copy lives, whatever the response's own TTL. */
  l1TtlMs: number;
  /** Whether this instance is sure to hear every invalidation (see the invalidation bus). */
  coherent(): boolean;
  /** Changes whenever L1 is emptied because invalidations may have been missed. */
  epoch(): number;
  /** Tells the other instances which responses went stale, and waits for that to be delivered. */
  broadcast(entities: CacheEntityRecord[]): Promise<void>;
  clock: Clock;
  metrics: CacheMetrics;
}

/**
 * Hot responses in process in front of Redis, coherent like the entity L1: it answers only
 * while the invalidation subscription holds (and is emptied when it starts again), every
 * invalidation reaches every instance's copy before the write replies, and a copy read from
 * Redis is refused when one of its entities was written in the quiet window (the read may
 * have begun before that write).
 */
export function createTieredResponseStore(options: TieredResponseStoreOptions): ResponseStore {
  const { l1, l2, metrics } = options;
  return {
    async get(id) {
      const coherent = options.coherent();
      const epoch = options.epoch();
      if (coherent) {
        const hit = await l1.get(id);
        metrics.lookups.inc({ kind: 'response', tier: 'l1', result: hit ? 'hit' : 'miss' });
        if (hit) return hit;
      }
      const entry = await l2.getEntry(id);
      metrics.lookups.inc({ kind: 'response', tier: 'redis', result: entry ? 'hit' : 'miss' });
      if (!entry) return null;
      const now = options.clock.now().getTime();
      // Not into an L1 emptied meanwhile; nor entries of older releases, which lack their entities.
      if (coherent && options.epoch() === epoch && entry.entities && entry.expiresAt > now) {
        l1.fill(id, entry.result, entry.entities, Math.min(options.l1TtlMs, entry.expiresAt - now), entry.expiresAt);
      }
      return withRemainingMaxAge(entry.result, entry.expiresAt, now);
    },
    async set(id, data, entities, ttl) {
      const list = [...entities];
      if (options.coherent()) {
        l1.fill(id, data, list, Math.min(options.l1TtlMs, ttl), options.clock.now().getTime() + ttl);
      }
      await l2.set(id, data, list, ttl);
    },
    async invalidate(entities) {
      const list = [...entities];
      await l1.invalidate(list);
      await l2.invalidate(list);
      await options.broadcast(list);
    },
    async clear() {
      await l1.clear();
      await l2.clear();
    },
  };
}
