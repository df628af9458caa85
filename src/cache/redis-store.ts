import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import type { CacheMetrics } from './cache-metrics.js';
import type { CacheStore, CacheWrite } from './store.js';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    putIfNotOlder(key: string, value: string, version: number, ttlMs: number): Result<number, Context>;
  }
}

const PUT_IF_NOT_OLDER = readFileSync(new URL('./scripts/put-if-not-older-1.lua', import.meta.url), 'utf8');

/** The shared tier: one MGET per read batch and one pipeline of guarded writes per write batch. */
export function createRedisStore(client: Redis, metrics: CacheMetrics) {
  client.defineCommand('putIfNotOlder', { numberOfKeys: 1, lua: PUT_IF_NOT_OLDER });

  const timed = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    const stop = metrics.duration.startTimer({ tier: 'redis', operation });
    metrics.redisRoundTrips.inc();
    try {
      return await work();
    } finally {
      stop();
    }
  };

  const store: CacheStore & {
    acquireLeases(keys: readonly string[], holder: string, ttlMs: number): Promise<boolean[]>;
    releaseLeases(keys: readonly string[]): Promise<void>;
    ping(): Promise<void>;
  } = {
    tier: 'redis',
    getMany: (keys) => (keys.length === 0 ? Promise.resolve([]) : timed('get', () => client.mget(...keys))),
    async putMany(writes: readonly CacheWrite[]) {
      if (writes.length === 0) return;
      await timed('put', async () => {
        const pipeline = client.pipeline();
        for (const write of writes) pipeline.putIfNotOlder(write.key, write.value, write.version, write.ttlMs);
        throwFirstError(await pipeline.exec());
      });
    },
    async acquireLeases(keys, holder, ttlMs) {
      if (keys.length === 0) return [];
      return timed('lease', async () => {
        const pipeline = client.pipeline();
        for (const key of keys) pipeline.set(key, holder, 'PX', ttlMs, 'NX');
        const results = await pipeline.exec();
        throwFirstError(results);
        return (results ?? []).map(([, reply]) => reply === 'OK');
      });
    },
    async releaseLeases(keys) {
      if (keys.length > 0) await timed('lease', () => client.unlink(...keys));
    },
    async ping() {
      await timed('ping', () => client.ping());
    },
  };
  return store;
}

export type RedisStore = ReturnType<typeof createRedisStore>;

function throwFirstError(results: Array<[Error | null, unknown]> | null): void {
  if (!results) throw new Error('redis pipeline was discarded');
  const failed = results.find(([error]) => error);
  if (failed) throw failed[0];
}
