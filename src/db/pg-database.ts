import pg from 'pg';
import type { Logger } from 'pino';
import type { Database, Queryable, StatementListener } from './database.js';
import { quoteIdentifier } from './database.js';

export interface PgDatabaseOptions {
  url: string;
  schema: string;
  poolMax: number;
  statementTimeoutMs: number;
  logger: Logger;
  onStatement?: StatementListener;
}

/** Runs on a `pg` pool; every connection gets the schema's search_path and a statement timeout. */
export function createPgDatabase(options: PgDatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${quoteIdentifier(options.schema)} -c statement_timeout=${options.statementTimeoutMs}`,
    application_name: 'recall',
  });
  // An idle client losing its server emits here; unhandled, it would kill the process.
  pool.on('error', (error) => options.logger.error({ err: error }, 'idle PostgreSQL client failed'));

  const over = (client: pg.Pool | pg.PoolClient): Queryable => ({
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      options.onStatement?.(sql);
      const result = await client.query(sql, params as unknown[]);
      return result.rows as Row[];
    },
    async exec(sql: string) {
      options.onStatement?.(sql);
      await client.query(sql);
    },
  });

  return {
    driver: 'postgres',
    ...over(pool),
    async transaction(work) {
      const client = await pool.connect();
      const tx = over(client);
      try {
        await tx.exec('BEGIN');
        const result = await work(tx);
        await tx.exec('COMMIT');
        client.release();
        return result;
      } catch (error) {
        // A connection that cannot roll back is in an unknown state: destroy it, never reuse it.
        const broken = await client.query('ROLLBACK').then(
          () => undefined,
          (rollbackError: unknown) => {
            options.logger.error({ err: rollbackError }, 'rollback failed; discarding the connection');
            return rollbackError instanceof Error ? rollbackError : new Error('rollback failed');
          },
        );
        client.release(broken);
        throw error;
      }
    },
    async close() {
      await pool.end();
    },
  };
}
