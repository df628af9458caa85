import type { Clock } from '../clock.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { InvalidationLog } from './invalidation-log.js';
import type { RedisResponseStore, StoredResponse } from './redis-response-store.js';
import { secondsLeft, type MemoryResponseStore, type ResponseHit, type ResponseLookup, type ResponseStore } from './response-store.js';
import type { ReadPosition } from './store.js';
import { responseLookups } from './response-lookups.js';

export interface TieredResponseStoreOptions {
  l1: MemoryResponseStore;
  l2: RedisResponseStore;
  /** Longest an L1 copy lives, whatever the response's own TTL. */
  l1TtlMs: number;
  log: InvalidationLog;
  /** Whether L1 hears every invalidation. */
  l1Listening(): boolean;
  clock: Clock;
  metrics: CacheMetrics;
}

/**
 * Hot responses in process in front of Redis, coherent like the entity L1: an L1 copy answers a
 * read only once L1 has applied the invalidation log up to the read's position, and a copy is
 * kept only if none of its tags was invalidated after the read's position (the same guard as
 * Redis's, on L1's own record of positions).
 */
export function createTieredResponseStore(options: TieredResponseStoreOptions): ResponseStore {
  const { l1, l2 } = options;
  const lookUp = { l1: responseLookups(options.metrics, 'l1'), redis: responseLookups(options.metrics, 'redis') };
  const now = () => options.clock.now().getTime();
  /** A Redis read begun before the request's read position was known, and this instance's position when it began. */
  interface EarlyRead {
    entry: Promise<StoredResponse | null>;
    asOf: ReadPosition;
  }

  const begin = (id: string): ResponseLookup => {
    // Redis is asked at once only where L1 holds no copy: where it holds one, it answers nearly
    // every hit (it is fresh once L1 has applied the log up to the read's position), with no
    // round trip to overlap.
    const early = l1.has(id) ? null : { asOf: options.log.position(), entry: lookUp.redis(() => l2.getEntry(id)) };
    return (read) => finish(id, read, early);
  };

  async function finish(id: string, read: ReadPosition, early: EarlyRead | null): Promise<ResponseHit | null> {
    if (options.log.inProcessFresh(read)) {
      const hit = await lookUp.l1(() => l1.get(id));
      if (hit) return hit;
    }
    const entry = await (early ? early.entry : lookUp.redis(() => l2.getEntry(id)));
    if (!entry) return null;
    const left = entry.expiresAt - now();
    if (left > 0 && options.l1Listening()) {
      // L1 keeps a copy only under a position no later than the Redis read that found it: an
      // early read may precede the request's position, and a write invalidated between the two
      // must still drop (or refuse) the copy.
      l1.fill(id, entry.response, entry.tags, Math.min(options.l1TtlMs, left), entry.expiresAt, early ? early.asOf : read);
    }
    return { ...entry.response, maxAgeSeconds: secondsLeft(entry.expiresAt, now()) };
  }

  return {
    // The position is known: nothing to ask ahead, and L1 keeps a copy under it.
    get: (id, read) => finish(id, read, null),
    begin,
    async set(id, response, tags, ttlMs, read) {
      const stored = await l2.set(id, response, tags, ttlMs, read);
      if (stored && options.l1Listening()) l1.fill(id, response, tags, Math.min(options.l1TtlMs, ttlMs), now() + ttlMs, read);
      return stored;
    },
  };
}
