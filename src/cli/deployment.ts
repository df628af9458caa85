import type { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { AppDeps } from '../app-deps.js';
import { createApp } from '../app.js';
import { createCache, type Cache } from '../cache/cache.js';
import { createCacheKeys } from '../cache/keys.js';
import { holdsRecallData } from '../cache/key-scan.js';
import { createRedisClient } from '../cache/redis-client.js';
import type { ReadPosition } from '../cache/store.js';
import { systemClock } from '../clock.js';
import { loadConfig, type Config } from '../config.js';
import type { Database } from '../db/database.js';
import { openDatabase } from '../db/open-database.js';
import { createEvents } from '../events/create-events.js';

/** A command the CLI will not run as asked: reported on stderr, exit code 2. */
export class Refusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Refusal';
  }
}

/** How long a command waits for the cache to sync with the outbox before it gives up. */
const READY_WAIT_MS = 10_000;

export interface Deployment {
  config: Config;
  logger: Logger;
  db: Database;
  cache: Cache;
}

/** Warnings and errors only, on stderr: stdout is the command's answer. */
const cliLogger = () => pino({ level: 'warn' }, pino.destination(2));

/**
 * Runs `work` against the deployment's Redis alone (no database, no cache sync), after checking
 * that its prefix holds Recall's data: a mistyped REDIS_KEY_PREFIX must not scan or delete
 * someone else's keys. `force` skips the check.
 */
export async function withRedis<T>(options: { force?: boolean }, work: (client: Redis, keys: ReturnType<typeof createCacheKeys>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  if (!config.REDIS_URL) throw new Refusal('REDIS_URL is not set: this deployment keeps its cache in process, where no command can reach it.');
  const client = createRedisClient({ url: config.REDIS_URL, name: 'admin', commandTimeoutMs: 10_000, logger: cliLogger(), offlineQueue: true });
  try {
    const keys = createCacheKeys(config.REDIS_KEY_PREFIX);
    await refuseForeignPrefix(client, keys, options.force);
    return await work(client, keys);
  } finally {
    client.disconnect();
  }
}

async function refuseForeignPrefix(client: Redis, keys: ReturnType<typeof createCacheKeys>, force = false): Promise<void> {
  if (force || (await holdsRecallData(client, keys))) return;
  throw new Refusal(`No Recall data under the prefix "${keys.prefix}" (no ${keys.log} key): check REDIS_KEY_PREFIX, or pass --force.`);
}

/**
 * Opens the deployment's database and cache for one command, and closes them after. The prefix
 * is checked first, before the cache's own start (which would write its log there).
 */
export async function withDeployment<T>(options: { force?: boolean }, work: (deployment: Deployment) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const logger = cliLogger();
  if (config.REDIS_URL && !options.force) await withRedis(options, async () => undefined);
  const db = await openDatabase(config, logger);
  try {
    const cache = await createCache(config, { db, registry: new Registry(), logger });
    try {
      await usable(cache);
      return await work({ config, logger, db, cache });
    } finally {
      await cache.close();
    }
  } finally {
    await db.close();
  }
}

/** The app's own services (sources, limiter, events) over the deployment, once its cache is usable. */
export async function withApp<T>(options: { force?: boolean }, work: (deps: AppDeps, read: () => Promise<ReadPosition>) => Promise<T>): Promise<T> {
  return withDeployment(options, async ({ config, logger, db, cache }) => {
    const registry = new Registry();
    const events = createEvents(config, registry, logger);
    const app = createApp({ config, db, cache, events, registry, logger, clock: systemClock });
    try {
      return await work(app.deps, () => currentRead(cache));
    } finally {
      await app.close();
      await events.bus.close();
    }
  });
}

/** Waits until the cache has synced with the outbox (Redis is skipped until then). */
async function usable(cache: Cache): Promise<void> {
  const deadline = performance.now() + READY_WAIT_MS;
  while (!cache.log.usable()) {
    if (performance.now() > deadline) throw new Refusal('Redis did not become usable (reachable and synced with the outbox) in time.');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The log's position now, as a request's admission reads it: fills are guarded against invalidations after it. */
async function currentRead(cache: Cache): Promise<ReadPosition> {
  if (!cache.redis) return cache.log.position();
  const [generation, position] = await cache.redis.hmget(cache.keys.log, 'gen', 'pos');
  return cache.log.observe(generation ?? '', Number(position ?? 0));
}
