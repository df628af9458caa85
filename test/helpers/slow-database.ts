import type { Database } from '../../src/db/database.js';

/**
 * The same database, but the results of matching statements arrive up to `maxDelayMs` late:
 * a reader then holds an old row while writers commit newer ones, which is the window the
 * cache's version guard has to close.
 */
export function withSlowReads(db: Database, matches: (sql: string) => boolean, maxDelayMs: number): Database {
  return {
    ...db,
    async query<Row>(sql: string, params?: readonly unknown[]) {
      const rows = await db.query<Row>(sql, params);
      if (matches(sql)) await new Promise((resolve) => setTimeout(resolve, Math.random() * maxDelayMs));
      return rows;
    },
  };
}
