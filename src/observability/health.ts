import type { Logger } from 'pino';
import type { Cache, RedisHealth } from '../cache/cache.js';
import type { Database } from '../db/database.js';

export type Status = 'ok' | 'degraded' | 'down';

export interface HealthReport {
  status: Status;
  checks: {
    database: { status: 'ok' | 'down'; latencyMs: number; driver: string };
    redis: RedisHealth;
  };
}

const TIMEOUT_MS = 2_000;

/**
 * Asks each dependency for a trivial answer, with a bound on how long that may take. The
 * endpoint is public, so the reason for a failure goes to the log, not into the answer.
 */
export async function checkHealth(db: Database, cache: Cache, logger: Logger): Promise<HealthReport> {
  const [database, redis] = await Promise.all([checkDatabase(db, logger), cache.health()]);
  // Without Redis every request is still answered (from PostgreSQL): degraded, not down.
  const status: Status = database.status === 'down' ? 'down' : redis.status === 'down' ? 'degraded' : 'ok';
  return { status, checks: { database, redis } };
}

/** Whether the database answers a trivial query within the bound; failures are logged, not thrown. */
export async function checkDatabase(db: Database, logger: Logger): Promise<HealthReport['checks']['database']> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok', latencyMs: elapsed(started), driver: db.driver };
  } catch (error) {
    logger.warn({ err: error }, 'health check: database failed');
    return { status: 'down', latencyMs: elapsed(started), driver: db.driver };
  } finally {
    clearTimeout(timer);
  }
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;
