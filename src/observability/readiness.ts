import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { readMigrations } from '../db/migrate.js';
import { checkDatabase } from './health.js';

export type Readiness =
  | { status: 'ready' }
  | { status: 'unavailable'; reason: 'database-down' }
  | { status: 'unavailable'; reason: 'migrations-pending'; pending: number };

/**
 * Whether this instance may take traffic: the database answers and every migration this build
 * ships is recorded in `schema_migrations`. The answer names no migration (the endpoint is
 * public): it says how many are missing, and the log says which.
 */
export async function checkReadiness(db: Database, logger: Logger): Promise<Readiness> {
  if ((await checkDatabase(db, logger)).status === 'down') return { status: 'unavailable', reason: 'database-down' };
  const [shipped, applied] = await Promise.all([
    shippedMigrations(),
    db.query<{ name: string }>('SELECT name FROM schema_migrations').catch((error: unknown) => {
      logger.warn({ err: error }, 'readiness: schema_migrations could not be read');
      return [];
    }),
  ]);
  const done = new Set(applied.map((row) => row.name));
  const pending = shipped.filter((name) => !done.has(name));
  if (pending.length === 0) return { status: 'ready' };
  logger.warn({ pending }, 'readiness: migrations not applied');
  return { status: 'unavailable', reason: 'migrations-pending', pending: pending.length };
}

// The files do not change while the process runs: read them once.
let shipped: Promise<string[]> | null = null;
const shippedMigrations = () => (shipped ??= readMigrations().then((migrations) => migrations.map((migration) => migration.name)));
