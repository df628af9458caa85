import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { parseInfo } from './redis-info.js';

/** The INFO fields exported, with their metric names and help. */
const FIELDS = {
  used_memory: ['recall_redis_used_memory_bytes', 'Memory Redis has allocated (INFO used_memory), as last sampled.'],
  evicted_keys: ['recall_redis_evicted_keys', 'Keys Redis evicted for maxmemory since it started (INFO evicted_keys; a counter of Redis\'s), as last sampled.'],
  expired_keys: ['recall_redis_expired_keys', 'Keys Redis expired since it started (INFO expired_keys; a counter of Redis\'s), as last sampled.'],
  keyspace_hits: ['recall_redis_keyspace_hits', 'Successful key lookups in Redis since it started (INFO keyspace_hits; a counter of Redis\'s), as last sampled.'],
  keyspace_misses: ['recall_redis_keyspace_misses', 'Failed key lookups in Redis since it started (INFO keyspace_misses; a counter of Redis\'s), as last sampled.'],
} as const;

type Field = keyof typeof FIELDS;

export interface RedisInfoSamplerOptions {
  client: Redis;
  registry: Registry;
  logger: Logger;
  /** How often INFO is read. Default: 10 000 ms. */
  intervalMs?: number;
}

/**
 * Reads Redis's INFO on a timer, never on a scrape: a scrape returns the last sample, so
 * however often Prometheus (or several of them) scrape, Redis sees one INFO per interval per
 * instance. A failed sample keeps the previous values (the fields are Redis's own counters, so
 * a gap loses nothing) and is logged at debug: the cache's own metrics already count the fault.
 */
export function createRedisInfoSampler({ client, registry, logger, intervalMs = 10_000 }: RedisInfoSamplerOptions) {
  const last = new Map<Field, number>();
  for (const [field, [name, help]] of Object.entries(FIELDS) as Array<[Field, readonly [string, string]]>) {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const value = last.get(field);
        if (value !== undefined) this.set(value);
      },
    });
  }

  let stopped = false;
  const sample = async () => {
    if (stopped) return;
    try {
      // The default sections (memory, stats…) hold every exported field.
      for (const [field, value] of exportedFields(await client.info())) last.set(field, value);
    } catch (error) {
      logger.debug({ err: error }, 'redis INFO sample failed; keeping the last one');
    }
  };
  // The cache's connection queues nothing while it connects: the first sample waits for it.
  if (client.status === 'ready') void sample();
  else client.once('ready', () => void sample());
  const timer = setInterval(() => void sample(), intervalMs);
  timer.unref();

  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** The exported fields of an INFO reply, as numbers (a field that is not one is left out). */
export function exportedFields(info: string): Map<Field, number> {
  const values = new Map<Field, number>();
  for (const [field, text] of parseInfo(info)) {
    const value = Number(text);
    if (Object.hasOwn(FIELDS, field) && text !== '' && Number.isFinite(value)) values.set(field as Field, value);
  }
  return values;
}
