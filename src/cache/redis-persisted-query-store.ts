import type { Redis } from 'ioredis';
import { firstConnection } from './redis-client.js';
import type { Logger } from 'pino';
import type { CacheMetrics } from './cache-metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { CacheKeys } from './keys.js';
import type { PersistedQueryStore } from './persisted-query-store.js';
import { createRedisGuard } from './redis-guard.js';

/**
 * Persisted query texts in Redis, shared by every instance: `<prefix>apq:<sha256>` holds one,
 * for `ttlMs` after its latest registration. Behind the cache's circuit breaker, and failing
 * open: with Redis down a lookup is a miss (the client then sends the text, and its request
 * runs) and a registration is dropped.
 */
export function createRedisPersistedQueryStore(options: {
  client: Redis;
  keys: CacheKeys;
  breaker: () => CircuitBreaker;
  ttlMs: number;
  /** How long the first command waits for the client's first connection (then none waits). */
  commandTimeoutMs: number;
  metrics: CacheMetrics;
  logger: Logger;
}): PersistedQueryStore {
  const { client, keys } = options;
  // Right after start-up, a hash other instances registered is found rather than asked for again.
  const connected = firstConnection(client, options.commandTimeoutMs);

  const guarded = createRedisGuard({
    breaker: options.breaker,
    usable: () => !options.breaker().isOpen,
    ready: connected,
    labelPrefix: '',
    failure: 'redis persisted-query operation failed',
    metrics: options.metrics,
    logger: options.logger,
  });

  return {
    get: (sha256Hash) => guarded('apq-get', null, () => client.get(keys.persistedQuery(sha256Hash))),
    async set(sha256Hash, query) {
      await guarded('apq-set', undefined, async () => {
        await client.set(keys.persistedQuery(sha256Hash), query, 'PX', options.ttlMs);
      });
    },
  };
}
