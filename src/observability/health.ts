import type { Logger } from 'pino';
import type { Database } from '../db/database.js';

export type Status = 'ok' | 'degraded' | 'down';

export interface HealthReport {
  status: Status;
  checks: Record<string, { status: Status; latencyMs: number; driver?: string }>;
}

const TIMEOUT_MS = 2_000;

/**
 * Asks each dependency for a trivial answer, with a bound on how long that may take. The
 * endpoint is public, so the reason for a failure goes to the log, not into the answer.
 */
export async function checkHealth(db: Database, logger: Logger): Promise<HealthReport> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      db.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok', checks: { database: { status: 'ok', latencyMs: elapsed(started), driver: db.driver } } };
  } catch (error) {
    logger.warn({ err: error }, 'health check: database failed');
    return { status: 'down', checks: { database: { status: 'down', latencyMs: elapsed(started), driver: db.driver } } };
  } finally {
    clearTimeout(timer);
  }
}

const elapsed = (started: number) => Math.round((performance.now() - started) * 100) / 100;
