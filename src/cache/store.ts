import type { Envelope } from './envelope.js';

/** Which layer answered: the L1 in front of Redis, Redis, or the in-process cache used without Redis. */
export type CacheTier = 'l1' | 'redis' | 'memory';

export interface CacheWrite {
  key: string;
  /** An encoded envelope. */
  value: string;
  version: number;
  ttlMs: number;
}

/** A cached envelope and the tier it came from; both null on a miss (or an unreadable value). */
export interface CacheRead {
  envelope: Envelope<unknown> | null;
  tier: CacheTier | null;
}

/**
 * The invalidation log as a request saw it when it was admitted (cache/invalidation-log.ts).
 * Every read of the cache carries one: it decides which tiers may answer and guards what the
 * read stores afterwards.
 */
export interface ReadPosition {
  /** The generation of the cached data this position belongs to. */
  gen: string;
  /** A log position at or before the request's first read: later invalidations refuse what it stores. */
  pos: number;
  /**
   * Whether `pos` is also at or after every invalidation acknowledged before the request began,
   * so that an in-process tier that has applied the log up to `pos` may answer it. False when
   * the position is only this instance's own view (Redis did not answer the admission).
   */
  exact: boolean;
}

/** Entities as the read path sees them: one or two tiers behind one read and one guarded fill. */
/** Hears how long each tier a read consulted took (a tier not consulted is not reported). */
export type TierTimings = (tier: CacheTier, seconds: number) => void;

export interface EntityCache {
  read(keys: readonly string[], read: ReadPosition, timings?: TierTimings): Promise<CacheRead[]>;
  /**
   * Stores values the source returned to a read that began at `read`. A value is refused where
   * the tier holds a newer version, or may have lost the record of an invalidation since then.
   */
  fill(writes: readonly CacheWrite[], read: ReadPosition): Promise<void>;
}
