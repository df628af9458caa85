import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open-database.js';

export type Backend = 'pglite' | 'postgres';

/** The backends this run covers: always PGlite, and PostgreSQL when one answers. */
export function backends(): Backend[] {
  return inject('postgresUrl') ? ['pglite', 'postgres'] : ['pglite'];
}

export interface Deployment {
  name: 'embedded' | 'redis';
  backend: Backend;
  redisUrl: string | null;
}

/**
 * The deployments a cache test runs on: embedded (PGlite, the in-process cache), and, when Redis
 * answers, Redis in front of the real database (PostgreSQL when it answers too).
 */
export function deployments(): Deployment[] {
  const redisUrl = inject('redisUrl');
  return [
    { name: 'embedded', backend: 'pglite', redisUrl: null },
    ...(redisUrl ? [{ name: 'redis' as const, backend: backends().at(-1)!, redisUrl }] : []),
  ];
}

export interface TestDatabase {
  db: Database;
  config: Config;
  /** Statements sent since the last reset. */
  statements: string[];
  drop(): Promise<void>;
}

/**
 * A migrated database of its own: an in-memory PGlite, or a fresh schema on the PostgreSQL
 * server (dropped afterwards), so that test files never see each other's rows.
 */
export async function createTestDatabase(backend: Backend, env: Record<string, string> = {}): Promise<TestDatabase> {
  const schema = `recall_test_${randomBytes(6).toString('hex')}`;
  const url = backend === 'postgres' ? inject('postgresUrl')! : 'memory://';
  // Retrieval counts are flushed by the tests that read them, never by a timer in the middle of
  // a statement count.
  const config = loadConfig({
    DATABASE_URL: url,
    DATABASE_SCHEMA: schema,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'test',
    // A secret of the test's own: nothing is generated into the working tree.
    SESSION_SECRET: randomBytes(32).toString('base64'),
    ACCESS_FLUSH_INTERVAL_MS: '3600000',
    // Tests send far more than a user's budget; the budget's own tests set it low.
    RATE_LIMIT_FREE_PER_WINDOW: '1000000',
    RATE_LIMIT_PRO_PER_WINDOW: '1000000',
    // Tests sign many users up and in from one address; the limits' own tests set these low.
    RATE_LIMIT_SIGNUP: '1000000/1h',
    RATE_LIMIT_LOGIN_PER_EMAIL: '1000000/15m',
    RATE_LIMIT_LOGIN_PER_ADDRESS: '1000000/15m',
    RATE_LIMIT_SEARCH_MEMORIES: '1000000/1m',
    RATE_LIMIT_ADD_MEMORIES: '1000000/1m',
    ...env,
  });
  const statements: string[] = [];
  const db = await openDatabase(config, pino({ level: 'silent' }), (sql) => statements.push(sql));
  return {
    db,
    config,
    statements,
    async drop() {
      await db.close();
      if (backend === 'postgres') await dropSchema(url, schema);
    },
  };
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
