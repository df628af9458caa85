import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { createRedisGuard } from './redis-guard.js';
import type { CacheKeys } from './keys.js';
import { secondsLeft, type CachedResponse, type ResponseHit, type ResponseStore } from './response-store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    storeResponse(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Result<number, Context>;
  }
}

const STORE_RESPONSE = readFileSync(new URL('./scripts/store-response-n.lua', import.meta.url), 'utf8');

/** A response as stored in Redis: with its expiry and tags (for an L1 copy). */
export interface StoredResponse {
  expiresAt: number;
  response: CachedResponse;
  tags: string[];
}

export interface RedisResponseStore extends ResponseStore {
  getEntry(id: string): Promise<StoredResponse | null>;
}

/**
 * Responses in Redis: `<prefix>response:<key>` holds one, `<prefix>response-tag:<tag>` the keys of
 * the responses that contain an entity (or type), expiring with the longest of them, and
 * `<prefix>response-pos:<tag>` the log position of the tag's latest invalidation, which the
 * store script compares with the position the response's request began at. Invalidation is
 * the apply script's (see the invalidation log); no KEYS or SCAN. It fails open: with Redis
 * unreachable a read is a miss and a store is skipped.
 */
export function createRedisResponseStore(options: {
  client: Redis;
  keys: CacheKeys;
  breaker: () => CircuitBreaker;
  /** Whether Redis may be used now (synced with the outbox). */
  usable(): boolean;
  /** A store found Redis of another generation than `generation`, the request's. */
  onOtherGeneration(generation: string): void;
  metrics: CacheMetrics;
  logger: Logger;
  clock: Clock;
}): RedisResponseStore {
  const { client, keys, metrics } = options;
  client.defineCommand('storeResponse', { lua: STORE_RESPONSE });

  /** Runs a Redis operation unless Redis is not to be used; failures count and give `fallback`. */
  const guarded = createRedisGuard({
    breaker: options.breaker,
    usable: options.usable,
    labelPrefix: 'response-',
    failure: 'response cache operation failed',
    metrics,
    logger: options.logger,
  });

  const getEntry = (id: string) =>
    guarded('get', null, async () => {
      const raw = await client.get(keys.response(id));
      return raw === null ? null : (JSON.parse(raw) as StoredResponse);
    });

  const hitOf = (entry: StoredResponse | null): ResponseHit | null =>
    entry && { ...entry.response, maxAgeSeconds: secondsLeft(entry.expiresAt, options.clock.now().getTime()) };

  return {
    getEntry,
    get: async (id) => hitOf(await getEntry(id)),
    begin(id) {
      const entry = getEntry(id);
      return async () => hitOf(await entry);
    },
    set(id, response, tags, ttlMs, read) {
      return guarded('set', false, async () => {
        const entry: StoredResponse = { expiresAt: options.clock.now().getTime() + ttlMs, response, tags: [...tags] };
        const outcome = Number(
          await client.storeResponse(
            2 + 2 * tags.length,
            keys.log,
            keys.response(id),
            ...tags.map(keys.responseTag),
            ...tags.map(keys.responsePosition),
            read.gen,
            read.pos,
            JSON.stringify(entry),
            ttlMs,
            tags.length,
          ),
        );
        if (outcome < 0) options.onOtherGeneration(read.gen);
        return outcome === 1;
      });
    },
  };
}
