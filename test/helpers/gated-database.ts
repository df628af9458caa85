import type { Database } from '../../src/db/database.js';

export interface Gate {
  /** Resolves once a matching statement has returned its rows and is being held. */
  reached: Promise<void>;
  /** Lets the held statement's rows go on to their caller. */
  release(): void;
}

/**
 * The same database, with a gate that can hold the next statement matching a test: its rows
 * (read before anything that follows) reach the caller only when the test says so. A read is
 * then held open, deterministically, across whatever the test does meanwhile.
 */
export function withGate(db: Database) {
  let armed: { matches(sql: string): boolean; reached(): void; released: Promise<void> } | null = null;
  const database: Database = {
    ...db,
    async query<Row>(sql: string, params?: readonly unknown[]) {
      const rows = await db.query<Row>(sql, params);
      const gate = armed;
      if (gate?.matches(sql)) {
        armed = null;
        gate.reached();
        await gate.released;
      }
      return rows;
    },
  };
  return {
    database,
    /** Holds the next statement for which `matches` is true. */
    hold(matches: (sql: string) => boolean): Gate {
      let reached!: () => void;
      let release!: () => void;
      const gate: Gate = {
        reached: new Promise<void>((resolve) => (reached = resolve)),
        release: () => release(),
      };
      armed = { matches, reached, released: new Promise<void>((resolve) => (release = resolve)) };
      return gate;
    },
  };
}
