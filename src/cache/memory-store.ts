import { LRUCache } from 'lru-cache';
import type { CacheStore, CacheTier, CacheWrite } from './store.js';

interface Stored {
  value: string;
  version: number;
}

/**
 * A bounded in-process LRU with per-entry TTLs: the whole cache without Redis, or the small L1
 * in front of it. It applies the same version guard as the Redis script.
 */
export function createMemoryStore(options: { maxEntries: number; tier: CacheTier; maxTtlMs?: number }) {
  const lru = new LRUCache<string, Stored>({ max: options.maxEntries, ttlAutopurge: false });
  const cap = (ttlMs: number) => (options.maxTtlMs === undefined ? ttlMs : Math.min(ttlMs, options.maxTtlMs));

  const store: CacheStore & { delete(keys: readonly string[]): void; clear(): void; size(): number } = {
    tier: options.tier,
    async getMany(keys) {
      return keys.map((key) => lru.get(key)?.value ?? null);
    },
    async putMany(writes: readonly CacheWrite[]) {
      for (const write of writes) {
        const current = lru.get(write.key);
        if (current && current.version > write.version) continue;
        lru.set(write.key, { value: write.value, version: write.version }, { ttl: cap(write.ttlMs) });
      }
    },
    delete(keys) {
      for (const key of keys) lru.delete(key);
    },
    clear() {
      lru.clear();
    },
    size: () => lru.size,
  };
  return store;
}

export type MemoryStore = ReturnType<typeof createMemoryStore>;
