import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database, StatementListener } from './database.js';
import { migrate } from './migrate.js';
import { openEmbeddedDatabase } from './open-embedded-database.js';

/** Opens the configured database (PostgreSQL, or embedded PGlite) and brings its schema up to date. */
export async function openDatabase(
  config: Config,
  logger: Logger,
  onStatement?: StatementListener,
): Promise<Database> {
  const started = performance.now();
  // pg is loaded only when used: the embedded start is the one that waits for it.
  const db = config.DATABASE_URL?.startsWith('postgres')
    ? (await import('./pg-database.js')).createPgDatabase({
        url: config.DATABASE_URL,
        schema: config.DATABASE_SCHEMA,
        poolMax: config.DATABASE_POOL_MAX,
        statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
        logger,
        onStatement,
      })
    : await openEmbeddedDatabase({
        dataDir: config.DATA_DIR,
        templateDir: config.DATA_TEMPLATE_DIR,
        inMemory: config.DATABASE_URL === 'memory://',
        schema: config.DATABASE_SCHEMA,
        logger,
        onStatement,
      });
  try {
    const applied = await migrate(db, config.DATABASE_SCHEMA, (pending) =>
      logger.info({ migrations: pending }, `applying migrations ${pending.join(', ')}…`),
    );
    logger.info(
      { driver: db.driver, schema: config.DATABASE_SCHEMA, applied, ms: Math.round(performance.now() - started) },
      'database ready',
    );
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
