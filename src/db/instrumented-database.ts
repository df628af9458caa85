import { Counter, Histogram, type Registry } from 'prom-client';
import type { Database, Queryable } from './database.js';

export type StatementKind = 'select' | 'insert' | 'update' | 'delete' | 'other';

/** The statement's kind from its first keyword (a WITH … query counts as other: its verb comes later). */
export function statementKind(sql: string): StatementKind {
  const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase();
  return verb === 'select' || verb === 'insert' || verb === 'update' || verb === 'delete' ? verb : 'other';
}

/**
 * The database with every statement counted and timed by kind, transactions' statements
 * included (BEGIN, COMMIT and scripts count as other). Errors are counted as well, by kind.
 */
export function instrumentDatabase(db: Database, registry: Registry): Database {
  const registers = [registry];
  const statements = new Counter({
    name: 'recall_db_statements_total',
    help: 'SQL statements sent to the database, by kind (select, insert, update, delete, other) and outcome (ok, error).',
    labelNames: ['kind', 'outcome'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'recall_db_statement_duration_seconds',
    help: 'Latency of SQL statements by kind, from sending to the last row (a transaction\'s statements each on their own).',
    labelNames: ['kind'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const timed = async <T>(sql: string, run: () => Promise<T>): Promise<T> => {
    const kind = statementKind(sql);
    const stop = duration.startTimer({ kind });
    try {
      const result = await run();
      statements.inc({ kind, outcome: 'ok' });
      return result;
    } catch (error) {
      statements.inc({ kind, outcome: 'error' });
      throw error;
    } finally {
      stop();
    }
  };
  const over = (target: Queryable): Queryable => ({
    query: <Row>(sql: string, params?: readonly unknown[]) => timed(sql, () => target.query<Row>(sql, params)),
    exec: (sql: string) => timed(sql, () => target.exec(sql)),
  });
  return {
    driver: db.driver,
    ...over(db),
    transaction: (work) => db.transaction((tx) => work(over(tx))),
    close: () => db.close(),
  };
}
