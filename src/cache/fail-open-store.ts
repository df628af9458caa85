import type { Logger } from 'pino';
import type { CacheMetrics } from './cache-metrics.js';
import { envelopeState } from './envelope.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { RedisStore } from './redis-store.js';
import type { CacheStore, CacheWrite } from './store.js';

/** Invalidations kept for replay while Redis is unreachable; past this the namespace is flushed. */
const MAX_PENDING = 100_000;

/**
 * Redis behind a circuit breaker. A failed or skipped read is a miss; a failed write is
 * dropped, except invalidations (tombstones), which are kept and replayed before Redis is used
 * again, so that a value written before an outage is never served after a write made during it.
 */
export function createFailOpenStore(options: {
  redis: RedisStore;
  breaker: () => CircuitBreaker;
  metrics: CacheMetrics;
  logger: Logger;
  /** Drops every cached entry of this Recall (used when too many invalidations were missed). */
  flushNamespace(): Promise<void>;
}) {
  const { redis, metrics, logger } = options;
  const pending = new Map<string, CacheWrite>();
  let overflowed = false;

  const remember = (writes: readonly CacheWrite[]) => {
    for (const write of writes) {
      if (!isInvalidation(write)) continue;
      if (pending.size >= MAX_PENDING) {
        overflowed = true;
        return;
      }
      const known = pending.get(write.key);
      if (!known || known.version <= write.version) pending.set(write.key, write);
    }
  };

  const failed = (operation: string, error: unknown) => {
    metrics.errors.inc({ tier: 'redis', operation });
    logger.debug({ err: error, operation }, 'redis cache operation failed');
    options.breaker().failure();
  };

  const store: CacheStore & { replayMissedInvalidations(): Promise<void>; pendingCount(): number } = {
    tier: 'redis',
    async getMany(keys) {
      if (options.breaker().isOpen) {
        metrics.skipped.inc({ operation: 'get' });
        return keys.map(() => null);
      }
      try {
        const values = await redis.getMany(keys);
        options.breaker().success();
        return values;
      } catch (error) {
        failed('get', error);
        return keys.map(() => null);
      }
    },
    async putMany(writes) {
      if (options.breaker().isOpen) {
        metrics.skipped.inc({ operation: 'put' });
        remember(writes);
        return;
      }
      try {
        await redis.putMany(writes);
        options.breaker().success();
      } catch (error) {
        failed('put', error);
        remember(writes);
      }
    },
    async replayMissedInvalidations() {
      if (overflowed) {
        logger.warn('too many invalidations missed while Redis was unreachable: flushing the cache namespace');
        await options.flushNamespace();
      } else if (pending.size > 0) {
        logger.info({ count: pending.size }, 'replaying invalidations missed while Redis was unreachable');
        await redis.putMany([...pending.values()]);
      }
      pending.clear();
      overflowed = false;
    },
    pendingCount: () => pending.size,
  };
  return store;
}

/** Tombstones and deletions must reach Redis eventually; plain values can simply be re-read. */
function isInvalidation(write: CacheWrite): boolean {
  return envelopeState(write.value) !== 'v';
}
