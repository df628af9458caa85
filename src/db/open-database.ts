import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database, StatementListener } from './database.js';
import { migrate } from './migrate.js';
import { createPgDatabase } from './pg-database.js';
import { createPgliteDatabase } from './pglite-database.js';

/** Opens the configured database (PostgreSQL, or embedded PGlite) and brings its schema up to date. */
export async function openDatabase(
  config: Config,
  logger: Logger,
  onStatement?: StatementListener,
): Promise<Database> {
  const db = config.DATABASE_URL?.startsWith('postgres')
    ? createPgDatabase({
        url: config.DATABASE_URL,
        schema: config.DATABASE_SCHEMA,
        poolMax: config.DATABASE_POOL_MAX,
        statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
        logger,
        onStatement,
      })
    : await createPgliteDatabase({
        dataDir: config.DATABASE_URL === 'memory://' ? 'memory://' : path.resolve(config.DATA_DIR, 'pglite'),
        schema: config.DATABASE_SCHEMA,
        onStatement,
      });
  try {
    const applied = await migrate(db, config.DATABASE_SCHEMA);
    logger.info({ driver: db.driver, schema: config.DATABASE_SCHEMA, applied }, 'database ready');
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
