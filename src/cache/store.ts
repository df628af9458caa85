import { decodeEnvelope, type Envelope } from './envelope.js';

/** Which layer answered: the L1 in front of Redis, Redis, or the in-process cache used without Redis. */
export type CacheTier = 'l1' | 'redis' | 'memory';

export interface CacheWrite {
  key: string;
  /** An encoded envelope. */
  value: string;
  version: number;
  ttlMs: number;
}

/** A key-value tier of the cache. Writes never replace a value that carries a higher version. */
export interface CacheStore {
  readonly tier: CacheTier;
  getMany(keys: readonly string[]): Promise<Array<string | null>>;
  putMany(writes: readonly CacheWrite[]): Promise<void>;
}

/** A cached envelope and the tier it came from; both null on a miss (or an unreadable value). */
export interface CacheRead {
  envelope: Envelope<unknown> | null;
  tier: CacheTier | null;
}

/** The whole cache as the read path sees it: one or two tiers behind one read and one write. */
export interface TieredCache {
  read(keys: readonly string[]): Promise<CacheRead[]>;
  write(writes: readonly CacheWrite[]): Promise<void>;
}

/** A single tier used as the whole cache: Redis without L1. */
export function singleTier(store: CacheStore): TieredCache {
  return {
    async read(keys) {
      return (await store.getMany(keys)).map((raw) => {
        const envelope = raw === null ? null : decodeEnvelope(raw);
        return { envelope, tier: envelope ? store.tier : null };
      });
    },
    write: (writes) => store.putMany(writes),
  };
}
