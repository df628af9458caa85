import { LRUCache } from 'lru-cache';
import { decodeEnvelope, type Envelope } from './envelope.js';
import type { CacheRead, CacheTier, CacheWrite, TieredCache } from './store.js';

interface Stored {
  value: string;
  version: number;
  /** Decoded on first read and kept, frozen: hits then cost no JSON parsing. */
  envelope?: Envelope<unknown> | null;
}

/**
 * A bounded in-process LRU with per-entry TTLs: the whole cache without Redis, or the small L1
 * in front of it. It applies the same version guard as the Redis script.
 */
export function createMemoryStore(options: { maxEntries: number; tier: CacheTier; maxTtlMs?: number }) {
  const lru = new LRUCache<string, Stored>({ max: options.maxEntries, ttlAutopurge: false });
  const cap = (ttlMs: number) => (options.maxTtlMs === undefined ? ttlMs : Math.min(ttlMs, options.maxTtlMs));

  const store = {
    readMany(keys: readonly string[]): CacheRead[] {
      return keys.map((key) => {
        const stored = lru.get(key);
        if (!stored) return { envelope: null, tier: null };
        if (stored.envelope === undefined) stored.envelope = deepFreeze(decodeEnvelope(stored.value));
        return { envelope: stored.envelope, tier: stored.envelope ? options.tier : null };
      });
    },
    async putMany(writes: readonly CacheWrite[]): Promise<void> {
      for (const write of writes) {
        const current = lru.get(write.key);
        if (current && current.version > write.version) continue;
        lru.set(write.key, { value: write.value, version: write.version }, { ttl: cap(write.ttlMs) });
      }
    },
    clear(): void {
      lru.clear();
    },
  };
  return store;
}

export type MemoryStore = ReturnType<typeof createMemoryStore>;

/** The in-process store as the whole cache (no Redis). */
export function memoryTier(store: MemoryStore): TieredCache {
  return {
    read: async (keys) => store.readMany(keys),
    write: (writes) => store.putMany(writes),
  };
}

/** Values shared by every request that hits the entry must not be changed by any of them. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
