import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { migrate } from '../../src/db/migrate.js';
import { openDatabase } from '../../src/db/open-database.js';
import { dropSchema } from '../helpers/test-database.js';

const silent = pino({ level: 'silent' });

describe('migrations', () => {
  const postgresUrl = inject('postgresUrl');

  it.runIf(postgresUrl)('apply once when several instances start at the same time (PostgreSQL)', async () => {
    const schema = `recall_test_${randomBytes(6).toString('hex')}`;
    const config = loadConfig({ DATABASE_URL: postgresUrl!, DATABASE_SCHEMA: schema });
    const instances = await Promise.all(Array.from({ length: 4 }, () => openDatabase(config, silent)));
    try {
      const [db] = instances;
      const applied = await db!.query<{ name: string }>('SELECT name FROM schema_migrations');
      expect(applied.map((row) => row.name)).toEqual(['0001_initial.sql', '0002_cache_outbox.sql', '0003_api_keys.sql', '0004_user_deletion_record.sql', '0005_memory_list_version.sql']);
      expect(await migrate(db!, schema)).toEqual([]);
      const tables = await db!.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name`,
        [schema],
      );
      expect(tables.map((row) => row.table_name)).toEqual([
        'api_keys',
        'cache_log',
        'cache_outbox',
        'contexts',
        'memories',
        'memory_access',
        'memory_events',
        'schema_migrations',
        'sessions',
        'users',
      ]);
    } finally {
      await Promise.all(instances.map((db) => db.close()));
      await dropSchema(postgresUrl!, schema);
    }
  });

  it('persist the embedded database on disk and do not re-apply on restart (PGlite)', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'recall-pglite-'));
    const config = loadConfig({ DATA_DIR: dataDir });
    try {
      const first = await openDatabase(config, silent);
      await first.query(
        `INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ('usr_1', 'a@b.co', 'x', now(), now())`,
      );
      await first.close();

      const second = await openDatabase(config, silent);
      try {
        expect(await migrate(second, 'public')).toEqual([]);
        expect(await second.query('SELECT email FROM users')).toEqual([{ email: 'a@b.co' }]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
