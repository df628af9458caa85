import { decodeEnvelope } from './envelope.js';
import type { InvalidationLog } from './invalidation-log.js';
import type { FailOpenStore } from './fail-open-store.js';
import { timeTier, type MemoryStore } from './memory-store.js';
import type { CacheRead, CacheWrite, EntityCache } from './store.js';

/**
 * Redis, with an optional L1 in front of it. Redis is read and filled only while the
 * invalidation log says it is usable (synced with the outbox). L1 answers a read only once it
 * has applied the log up to the read's position; otherwise the read goes to Redis. L1 is filled
 * with what Redis had, and with what the source returned, under its own guards (versions and
 * the floor of evicted invalidations), and only while it hears every invalidation.
 */
export function createTieredCache(options: {
  l1: MemoryStore | null;
  l2: FailOpenStore;
  l1TtlMs: number;
  log: InvalidationLog;
  /** Whether L1 hears every invalidation. */
  l1Listening(): boolean;
}): EntityCache {
  const { l1, l2, log } = options;
  const forL1 = (writes: readonly CacheWrite[]) => writes.map((write) => ({ ...write, ttlMs: Math.min(write.ttlMs, options.l1TtlMs) }));

  return {
    async read(keys, read, timings) {
      if (!log.usable()) return keys.map(() => ({ envelope: null, tier: null }));
      const reads: CacheRead[] =
        l1 && log.inProcessFresh(read) ? timeTier('l1', timings, () => l1.readMany(keys)) : keys.map(() => ({ envelope: null, tier: null }));
      const missing = keys.filter((_, index) => reads[index]!.envelope === null);
      if (missing.length === 0) return reads;
      const fromRedis = await timeTier('redis', timings, () => l2.getMany(missing));
      const backFill: CacheWrite[] = [];
      let next = 0;
      for (const [index, found] of reads.entries()) {
        if (found.envelope !== null) continue;
        const raw = fromRedis[next++] ?? null;
        const envelope = raw === null ? null : decodeEnvelope(raw);
        if (raw === null || !envelope) continue;
        reads[index] = { envelope, tier: 'redis' };
        backFill.push({ key: keys[index]!, value: raw, version: envelope.version, ttlMs: options.l1TtlMs });
      }
      if (l1 && options.l1Listening()) l1.fill(backFill, read);
      return reads;
    },
    async fill(writes, read) {
      if (!log.usable()) return;
      await l2.fill(writes, read);
      if (l1 && options.l1Listening()) l1.fill(forL1(writes), read);
    },
  };
}
