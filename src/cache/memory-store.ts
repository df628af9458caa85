import { LRUCache } from 'lru-cache';
import { deepFreeze } from './deep-freeze.js';
import { decodeEnvelope, type Envelope } from './envelope.js';
import type { CacheRead, CacheTier, CacheWrite, EntityCache, ReadPosition, TierTimings } from './store.js';

interface Stored {
  value: string;
  version: number;
  /** The log position of the invalidation that wrote this entry; 0 for values read from a source. */
  position: number;
  /** Decoded on first read and kept, frozen: hits then cost no JSON parsing. */
  envelope?: Envelope<unknown> | null;
}

/**
 * A bounded in-process LRU with per-entry TTLs: the whole cache without Redis, or the small L1
 * in front of it. Invalidations are applied with their log position; a fill (a value read from
 * the source or from Redis) is refused where it would put back an older version, and, once an
 * entry left by an invalidation has been evicted or has expired, for any read that began before
 * that invalidation: the entry was the guard, and the floor remembers it.
 */
export function createMemoryStore(options: { maxEntries: number; tier: CacheTier; maxTtlMs?: number }) {
  let floor = 0;
  const lru = new LRUCache<string, Stored>({
    max: options.maxEntries,
    ttlAutopurge: false,
    dispose: (stored, _key, reason) => {
      if (reason !== 'set' && stored.position > floor) floor = stored.position;
    },
  });
  const cap = (ttlMs: number) => Math.max(1, options.maxTtlMs === undefined ? ttlMs : Math.min(ttlMs, options.maxTtlMs));

  /** Writes unless a newer version is held; the entry keeps the highest invalidation position it has seen. */
  const put = (write: CacheWrite, current: Stored | undefined, position: number) => {
    if (current && current.version > write.version) return;
    const kept = Math.max(position, current?.position ?? 0);
    lru.set(write.key, { value: write.value, version: write.version, position: kept }, { ttl: cap(write.ttlMs) });
  };

  return {
    readMany(keys: readonly string[]): CacheRead[] {
      return keys.map((key) => {
        const stored = lru.get(key);
        if (!stored) return { envelope: null, tier: null };
        if (stored.envelope === undefined) stored.envelope = deepFreeze(decodeEnvelope(stored.value));
        return { envelope: stored.envelope, tier: stored.envelope ? options.tier : null };
      });
    },
    /** Applies the writes of the invalidation at `position`. */
    invalidate(writes: readonly CacheWrite[], position: number): void {
      for (const write of writes) put(write, lru.get(write.key), position);
    },
    fill(writes: readonly CacheWrite[], read: ReadPosition): void {
      for (const write of writes) {
        // The lookup comes first: it disposes of an expired guard, which raises the floor.
        const current = lru.get(write.key);
        if (read.pos >= floor) put(write, current, 0);
      }
    },
    /** Drops everything, refusing from now on what reads that began before `position` fill in. */
    reset(position: number): void {
      lru.clear();
      floor = Math.max(floor, position);
    },
  };
}

export type MemoryStore = ReturnType<typeof createMemoryStore>;

/** The in-process store as the whole cache (no Redis). */
export function memoryTier(store: MemoryStore): EntityCache {
  return {
    read: async (keys, _read, timings) => timeTier('memory', timings, () => store.readMany(keys)),
    fill: async (writes, read) => store.fill(writes, read),
  };
}

/**
 * Runs one tier's part of a read, reporting its duration to `timings` if given: at once for an
 * in-process tier (which stays synchronous), when it settles for a promise.
 */
export function timeTier<T>(tier: CacheTier, timings: TierTimings | undefined, work: () => T): T {
  if (!timings) return work();
  const started = performance.now();
  const report = () => timings(tier, (performance.now() - started) / 1000);
  const result = work();
  if (result instanceof Promise) return result.finally(report) as T;
  report();
  return result;
}
