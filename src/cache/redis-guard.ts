import type { Logger } from 'pino';
import type { CacheMetrics } from './cache-metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';

export interface RedisGuardOptions {
  breaker: () => CircuitBreaker;
  /** Whether Redis may be used now; when not, the call is skipped (and counted) and gives its fallback. */
  usable: () => boolean;
  /** Awaited before each call that goes ahead (e.g. the first connection). */
  ready?: () => Promise<void>;
  /** Prefix of the operation label in metrics, e.g. `response-`. */
  labelPrefix: string;
  /** What the debug log calls a failed call, e.g. `response cache operation failed`. */
  failure: string;
  metrics: CacheMetrics;
  logger: Logger;
}

/** A Redis call that fails open: timed and counted, reported to the circuit breaker, and answered by `fallback` when Redis is skipped or fails. */
export type RedisGuard = <T>(operation: string, fallback: T, work: () => Promise<T>) => Promise<T>;

/** The one way the Redis-backed stores run a command that must never fail a request. */
export function createRedisGuard(options: RedisGuardOptions): RedisGuard {
  const { metrics } = options;
  return async (operation, fallback, work) => {
    const label = `${options.labelPrefix}${operation}`;
    if (!options.usable()) {
      metrics.skipped.inc({ operation: label });
      return fallback;
    }
    await options.ready?.();
    const stop = metrics.duration.startTimer({ tier: 'redis', operation: label });
    metrics.redisRoundTrips.inc();
    try {
      const result = await work();
      options.breaker().success();
      return result;
    } catch (error) {
      metrics.errors.inc({ tier: 'redis', operation: label });
      options.logger.debug({ err: error, operation: label }, options.failure);
      options.breaker().failure();
      return fallback;
    } finally {
      stop();
    }
  };
}
