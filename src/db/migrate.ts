import { readdir, readFile } from 'node:fs/promises';
import type { Database } from './database.js';
import { quoteIdentifier } from './database.js';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export interface Migration {
  /** The file name, which orders migrations and records them in `schema_migrations`. */
  name: string;
  sql: string;
}

/** The SQL files of `migrations/`, in name order. */
export async function readMigrations(): Promise<Migration[]> {
  const names = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(new URL(name, MIGRATIONS_DIR), 'utf8') })));
}

/**
 * Applies the SQL files of `migrations/` in name order, each once, recorded in
 * `schema_migrations`. The whole run holds a transaction-scoped advisory lock, so instances
 * starting together apply each migration exactly once. `onPending` hears the names about to be
 * applied, before the work starts. Returns the names applied now.
 */
export async function migrate(
  db: Database,
  schema: string,
  onPending?: (names: string[]) => void,
): Promise<string[]> {
  const migrations = await readMigrations();
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`recall:migrate:${schema}`]);
    await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await tx.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await tx.query<{ name: string }>('SELECT name FROM schema_migrations')).map((row) => row.name),
    );
    const pending = migrations.filter((migration) => !done.has(migration.name));
    if (pending.length > 0) onPending?.(pending.map((migration) => migration.name));
    for (const migration of pending) {
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [migration.name]);
    }
    return pending.map((migration) => migration.name);
  });
}
