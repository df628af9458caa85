import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import type { CacheMetrics } from './cache-metrics.js';
import type { CacheKeys } from './keys.js';
import type { CacheWrite, ReadPosition } from './store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    fillIfNotOlder(
      key: string,
      log: string,
      position: string,
      value: string,
      version: number,
      ttlMs: number,
      generation: string,
      readPosition: number,
    ): Result<number, Context>;
  }
}

const FILL_IF_NOT_OLDER = readFileSync(new URL('./scripts/fill-if-not-older-3.lua', import.meta.url), 'utf8');

/** How a fill went: stored, refused for its version, or refused for a generation that is no longer Redis's. */
export type FillOutcome = 'stored' | 'older' | 'other-generation';

/** The shared tier's commands: one MGET per read batch, one pipeline of guarded fills per write batch. */
export function createRedisStore(client: Redis, keys: CacheKeys, metrics: CacheMetrics) {
  client.defineCommand('fillIfNotOlder', { numberOfKeys: 3, lua: FILL_IF_NOT_OLDER });

  const timed = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    const stop = metrics.duration.startTimer({ tier: 'redis', operation });
    metrics.redisRoundTrips.inc();
    try {
      return await work();
    } finally {
      stop();
    }
  };

  return {
    getMany: (keys: readonly string[]): Promise<Array<string | null>> =>
      keys.length === 0 ? Promise.resolve([]) : timed('get', () => client.mget(...keys)),
    /** Fills values read at `read`, each unless Redis knows of a newer version or a later invalidation. */
    async fill(writes: readonly CacheWrite[], read: ReadPosition): Promise<FillOutcome[]> {
      if (writes.length === 0) return [];
      return timed('put', async () => {
        const pipeline = client.pipeline();
        for (const write of writes) {
          pipeline.fillIfNotOlder(write.key, keys.log, keys.entityPosition(write.key), write.value, write.version, write.ttlMs, read.gen, read.pos);
        }
        const replies = throwFirstError(await pipeline.exec());
        return replies.map((reply) => (reply === 1 ? 'stored' : reply === 0 ? 'older' : 'other-generation'));
      });
    },
    async acquireLeases(keys: readonly string[], holder: string, ttlMs: number): Promise<boolean[]> {
      if (keys.length === 0) return [];
      return timed('lease', async () => {
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.set(key, holder, 'PX', ttlMs, 'NX');
        return throwFirstError(await pipeline.exec()).map((reply) => reply === 'OK');
      });
    },
    async releaseLeases(keys: readonly string[]): Promise<void> {
      if (keys.length > 0) await timed('lease', () => client.unlink(...keys));
    },
    async ping(): Promise<void> {
      await timed('ping', () => client.ping());
    },
  };
}

export type RedisStore = ReturnType<typeof createRedisStore>;

function throwFirstError(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (!results) throw new Error('redis pipeline was discarded');
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
  return results.map(([, reply]) => reply);
}
