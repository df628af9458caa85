import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisClientOptions {
  url: string;
  /** Shown in logs and in CLIENT LIST. */
  name: string;
  commandTimeoutMs: number;
  logger: Logger;
  /**
   * Queue commands while disconnected. Off for cache commands, which must fail at once and
   * fall back to PostgreSQL; on for the subscriber, whose SUBSCRIBE should wait for Redis.
   */
  offlineQueue?: boolean;
}

/**
 * A labelled ioredis client: password and ACL user from the URL, TLS with rediss://, reconnects
 * forever with capped backoff, and logs each change of connection state once.
 */
export function createRedisClient(options: RedisClientOptions): Redis {
  const log = options.logger.child({ redis: options.name });
  const client = new Redis(options.url, {
    connectionName: `recall:${options.name}`,
    commandTimeout: options.offlineQueue ? undefined : options.commandTimeoutMs,
    connectTimeout: 2_000,
    enableOfflineQueue: options.offlineQueue ?? false,
    maxRetriesPerRequest: options.offlineQueue ? null : 0,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    // Subscriptions are renewed by their owner on 'ready', which must know when they hold.
    autoResubscribe: false,
  });
  let healthy = false;
  client.on('ready', () => {
    healthy = true;
    log.info('redis ready');
  });
  client.on('error', (error: Error) => {
    if (!healthy) return;
    healthy = false;
    log.warn({ err: error }, 'redis connection failed; serving from PostgreSQL until it is back');
  });
  client.on('reconnecting', (delay: number) => log.debug({ delay }, 'redis reconnecting'));
  return client;
}

/**
 * Waits for the outcome of a client's first connection attempt (ready, or failed), at most
 * `timeoutMs`, and from then on never waits. Commands sent while an instance starts then reach
 * Redis instead of failing over to in-process counts that no other instance sees, while a later
 * outage still fails at once.
 */
export function firstConnection(client: Redis, timeoutMs: number): () => Promise<void> {
  let settled = client.status === 'ready';
  const outcome = new Promise<void>((resolve) => {
    const done = () => {
      settled = true;
      clearTimeout(timer);
      client.off('ready', done).off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    client.once('ready', done).once('error', done);
  });
  return () => (settled ? Promise.resolve() : outcome);
}

/** Unlinks the keys under `prefix` that `select` picks (all by default), a SCAN batch at a time; how many. */
export async function unlinkUnder(client: Redis, prefix: string, select: (key: string) => boolean = () => true): Promise<number> {
  const stream = client.scanStream({ match: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, count: 1000 });
  let unlinked = 0;
  for await (const batch of stream as AsyncIterable<string[]>) {
    const doomed = batch.filter(select);
    if (doomed.length > 0) unlinked += await client.unlink(...doomed);
  }
  return unlinked;
}
