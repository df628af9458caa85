import { LRUCache } from 'lru-cache';

/**
 * Where automatic persisted queries (APQ) are registered: query texts by their sha256. A text
 * never changes under its hash, so any copy anywhere is as good as any other, and losing one
 * costs a client one round trip (it sends the text again). So the store never fails a request:
 * a lookup it cannot make is a miss, a registration it cannot make is dropped.
 */
export interface PersistedQueryStore {
  /** The query text registered under `sha256Hash` (lower-case hex), or null. */
  get(sha256Hash: string): Promise<string | null>;
  /** Registers `query` under `sha256Hash`, which the caller has checked is its hash. */
  set(sha256Hash: string, query: string): Promise<void>;
}

export interface MemoryPersistedQueryOptions {
  /** Bytes of query text kept; the least recently used go first. */
  maxBytes: number;
  ttlMs: number;
}

/** Query texts in a bounded in-process LRU: the whole store without Redis, or the copy in front of it. */
export function createMemoryPersistedQueryStore(options: MemoryPersistedQueryOptions): PersistedQueryStore {
  const texts = new LRUCache<string, string>({
    maxSize: options.maxBytes,
    // UTF-16 code units stand in for bytes: the bound is about memory, not exact.
    sizeCalculation: (query, hash) => query.length + hash.length,
    ttl: options.ttlMs,
  });
  return {
    get: async (sha256Hash) => texts.get(sha256Hash) ?? null,
    async set(sha256Hash, query) {
      texts.set(sha256Hash, query);
    },
  };
}

/** A shared store (Redis) with the in-process one in front: a text this instance has seen costs no round trip. */
export function createTieredPersistedQueryStore(local: PersistedQueryStore, shared: PersistedQueryStore): PersistedQueryStore {
  return {
    async get(sha256Hash) {
      const known = await local.get(sha256Hash);
      if (known !== null) return known;
      const query = await shared.get(sha256Hash);
      if (query !== null) await local.set(sha256Hash, query);
      return query;
    },
    async set(sha256Hash, query) {
      await Promise.all([local.set(sha256Hash, query), shared.set(sha256Hash, query)]);
    },
  };
}
