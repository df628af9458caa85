import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Database, Queryable, StatementListener } from './database.js';
import { quoteIdentifier } from './database.js';

export interface PgliteDatabaseOptions {
  /** A folder to persist into, or `memory://`. */
  dataDir: string;
  schema: string;
  /** A data directory (a tarball from `dumpDataDir`) to start from; only for a folder that holds no database yet. */
  initialData?: Blob;
  onStatement?: StatementListener;
}

export interface PgliteDatabase extends Database {
  /** Escape hatch, PGlite only: the whole data directory as a gzipped tarball (see `initialData`). */
  dumpDataDir(): Promise<Blob>;
}

/**
 * PostgreSQL's buffer pool in the embedded database. PGlite's default, 128 MB, is touched as the
 * database opens and stays in the process's memory. An embedded database is a development one,
 * and its "disk" is memory or the OS's page cache, so a small pool costs little: 16 MB saved
 * 100 to 140 MB of RSS at start (`npm run bench:startup`).
 */
const SHARED_BUFFERS = '16MB';

/** Embedded PostgreSQL (WASM) with the same SQL as the server; one connection, queued by PGlite. */
export async function createPgliteDatabase(options: PgliteDatabaseOptions): Promise<PgliteDatabase> {
  if (options.dataDir !== 'memory://') await mkdir(options.dataDir, { recursive: true });
  const pglite = await PGlite.create(options.dataDir, {
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`],
    ...(options.initialData ? { loadDataDir: options.initialData } : {}),
  });
  await pglite.exec(`SET search_path TO ${quoteIdentifier(options.schema)}`);

  const over = (client: PGlite | Transaction): Queryable => ({
    async query<Row>(sql: string, params: readonly unknown[] = []) {
      options.onStatement?.(sql);
      const result = await client.query<Row>(sql, params as unknown[]);
      return result.rows;
    },
    async exec(sql: string) {
      options.onStatement?.(sql);
      await client.exec(sql);
    },
  });

  return {
    driver: 'pglite',
    ...over(pglite),
    transaction: (work) => pglite.transaction((tx) => work(over(tx))),
    dumpDataDir: () => pglite.dumpDataDir('gzip'),
    async close() {
      await pglite.close();
    },
  };
}
