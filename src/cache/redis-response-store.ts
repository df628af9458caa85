import type { ExecutionResult } from 'graphql';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CacheMetrics } from './cache-metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import {
  tagsOf,
  withRemainingMaxAge,
  type CacheEntityRecord,
  type ResponseStore,
  type ResponseStoreOptions,
} from './response-store.js';

/** A response as stored: with its expiry, and the entities it contains (for an L1 copy's tags). */
export interface StoredResponse {
  expiresAt: number;
  result: ExecutionResult;
  entities: CacheEntityRecord[];
}

export interface RedisResponseStore extends ResponseStore {
  getEntry(id: string): Promise<StoredResponse | null>;
}

/**
 * Responses in Redis: `<prefix>response:<key>` holds one, `<prefix>response-tag:<tag>` the keys
 * of the responses that contain an entity (or type), expiring with the longest of them, and
 * `<prefix>response-written:<tag>` the time of a recent write. Deletes use UNLINK; no KEYS or
 * SCAN. It fails open: with Redis unreachable a read is a miss and a write is skipped.
 */
export function createRedisResponseStore(
  options: ResponseStoreOptions & {
    client: Redis;
    prefix: string;
    breaker: () => CircuitBreaker;
    metrics: CacheMetrics;
    logger: Logger;
  },
): RedisResponseStore {
  const { client, prefix, metrics } = options;
  const entryKey = (id: string) => `${prefix}response:${id}`;
  const tagKey = (tag: string) => `${prefix}response-tag:${tag}`;
  const writtenKey = (tag: string) => `${prefix}response-written:${tag}`;

  /** Runs a Redis operation unless the circuit is open; failures count and give `fallback`. */
  const guarded = async <T>(operation: string, fallback: T, work: () => Promise<T>): Promise<T> => {
    if (options.breaker().isOpen) {
      metrics.skipped.inc({ operation: `response-${operation}` });
      return fallback;
    }
    const stop = metrics.duration.startTimer({ tier: 'redis', operation: `response-${operation}` });
    try {
      const result = await work();
      options.breaker().success();
      return result;
    } catch (error) {
      metrics.errors.inc({ tier: 'redis', operation: `response-${operation}` });
      options.logger.debug({ err: error, operation }, 'response cache operation failed');
      options.breaker().failure();
      return fallback;
    } finally {
      stop();
    }
  };

  const exec = async (pipeline: ReturnType<Redis['pipeline']>) => {
    metrics.redisRoundTrips.inc();
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    return results.map(([, value]) => value);
  };

  const store = async (id: string, data: ExecutionResult, entities: CacheEntityRecord[], ttl: number) => {
    const tags = [...new Set(entities.flatMap(tagsOf))];
    if (tags.length > 0) {
      metrics.redisRoundTrips.inc();
      const since = options.clock.now().getTime() - options.quietMs;
      const written = await client.mget(...tags.map(writtenKey));
      if (written.some((at) => at !== null && Number(at) > since)) return;
    }
    const key = entryKey(id);
    const pipeline = client.pipeline();
    const entry: StoredResponse = { expiresAt: options.clock.now().getTime() + ttl, result: data, entities: [...entities] };
    pipeline.set(key, JSON.stringify(entry), 'PX', ttl);
    for (const tag of tags) {
      pipeline.sadd(tagKey(tag), key);
      // A tag set lives as long as the longest-lived response in it, and no longer.
      pipeline.pexpire(tagKey(tag), ttl, 'NX');
      pipeline.pexpire(tagKey(tag), ttl, 'GT');
    }
    await exec(pipeline);
  };

  // The plugin does not wait for set(); a get of the same key waits for it instead, so that a
  // client's next request finds what its previous one cached.
  const settling = new Map<string, Promise<void>>();

  const getEntry = (id: string) =>
    guarded('get', null, async () => {
      await settling.get(id);
      metrics.redisRoundTrips.inc();
      const raw = await client.get(entryKey(id));
      return raw === null ? null : (JSON.parse(raw) as StoredResponse);
    });

  return {
    getEntry,
    async get(id) {
      const entry = await getEntry(id);
      return entry && withRemainingMaxAge(entry.result, entry.expiresAt, options.clock.now().getTime());
    },
    set(id, data, entities, ttl) {
      const done = guarded('set', undefined, () => store(id, data, [...entities], ttl)).finally(() => {
        if (settling.get(id) === done) settling.delete(id);
      });
      settling.set(id, done);
      return done;
    },
    invalidate(entities) {
      // The write happened now, not when Redis answers.
      const now = String(options.clock.now().getTime());
      return guarded('invalidate', undefined, async () => {
        const tags = [...new Set([...entities].map((entity) => tagsOf(entity)[0]!))];
        if (tags.length === 0) return;
        const read = client.pipeline();
        for (const tag of tags) read.smembers(tagKey(tag));
        const members = (await exec(read)) as string[][];
        const drop = client.pipeline();
        tags.forEach((tag, index) => {
          const keys = members[index] ?? [];
          drop.set(writtenKey(tag), now, 'PX', options.quietMs);
          if (keys.length > 0) {
            drop.unlink(...keys);
            // Only the members read: a response cached meanwhile keeps its place in the set.
            drop.srem(tagKey(tag), ...keys);
          }
        });
        await exec(drop);
      });
    },
    async clear() {
      // Cache.clear() flushes the whole key prefix, responses included.
    },
  };
}
