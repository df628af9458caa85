import { decodeEnvelope } from './envelope.js';
import type { MemoryStore } from './memory-store.js';
import { singleTier, type CacheRead, type CacheStore, type CacheWrite, type TieredCache } from './store.js';

/**
 * L1 (in-process) in front of L2 (Redis): reads ask L1, then one MGET for what L1 lacks, and
 * back-fill L1 with what Redis had; writes go to Redis, then to L1. L1 applies the version
 * guard too, so a back-fill of an old value cannot land over a newer tombstone.
 */
export function createTieredCache(options: {
  l1: MemoryStore;
  l2: CacheStore;
  l1TtlMs: number;
  /** False while invalidations from other instances could be missed: L1 is then left out. */
  l1Coherent(): boolean;
}): TieredCache {
  const { l1, l2 } = options;
  const redisOnly = singleTier(l2);
  return {
    async read(keys) {
      if (!options.l1Coherent()) return redisOnly.read(keys);
      const reads: CacheRead[] = l1.readMany(keys);
      const missing = keys.filter((_, index) => reads[index]!.envelope === null);
      if (missing.length === 0) return reads;
      const fromRedis = await l2.getMany(missing);
      const backFill: CacheWrite[] = [];
      let next = 0;
      for (const [index, read] of reads.entries()) {
        if (read.envelope !== null) continue;
        const raw = fromRedis[next++] ?? null;
        const envelope = raw === null ? null : decodeEnvelope(raw);
        if (raw === null || !envelope) continue;
        reads[index] = { envelope, tier: 'redis' };
        backFill.push({ key: keys[index]!, value: raw, version: envelope.version, ttlMs: options.l1TtlMs });
      }
      await l1.putMany(backFill);
      return reads;
    },
    async write(writes) {
      await l2.putMany(writes);
      if (options.l1Coherent()) await l1.putMany(writes);
    },
  };
}
