import type { Logger } from 'pino';
import type { CacheMetrics } from './cache-metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { RedisStore } from './redis-store.js';
import type { CacheWrite, ReadPosition } from './store.js';

/**
 * Redis behind a circuit breaker, for the read path: a failed or skipped read is a miss, a
 * failed fill is dropped (the value is simply read from the source again). Nothing here must
 * reach Redis eventually: invalidations go through the invalidation log, which is durable.
 */
export function createFailOpenStore(options: {
  redis: RedisStore;
  breaker: () => CircuitBreaker;
  metrics: CacheMetrics;
  logger: Logger;
  /** A fill found Redis of another generation than `generation`, the read's. */
  onOtherGeneration(generation: string): void;
}) {
  const { redis, metrics, logger } = options;

  const failed = (operation: string, error: unknown) => {
    metrics.errors.inc({ tier: 'redis', operation });
    logger.debug({ err: error, operation }, 'redis cache operation failed');
    options.breaker().failure();
  };

  return {
    async getMany(keys: readonly string[]): Promise<Array<string | null>> {
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
    async fill(writes: readonly CacheWrite[], read: ReadPosition): Promise<void> {
      if (options.breaker().isOpen) {
        metrics.skipped.inc({ operation: 'put' });
        return;
      }
      try {
        const outcomes = await redis.fill(writes, read);
        options.breaker().success();
        if (outcomes.includes('other-generation')) options.onOtherGeneration(read.gen);
      } catch (error) {
        failed('put', error);
      }
    },
  };
}

export type FailOpenStore = ReturnType<typeof createFailOpenStore>;
