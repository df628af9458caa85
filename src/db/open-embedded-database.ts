import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { StatementListener } from './database.js';
import { createPgliteDatabase, type PgliteDatabase } from './pglite-database.js';
import { adoptTemplateSchema, loadPgliteTemplate } from './pglite-template.js';

export interface EmbeddedDatabaseOptions {
  /** The configured DATA_DIR; the database lives in its `pglite/` folder. */
  dataDir: string;
  /** Where the template is kept (DATA_TEMPLATE_DIR); unset: node_modules/.cache/recall. */
  templateDir: string | undefined;
  inMemory: boolean;
  schema: string;
  logger: Logger;
  onStatement?: StatementListener;
}

/**
 * Opens PGlite, saying what it is doing, since a first start takes seconds: a new database
 * (every in-memory one, and a folder's first) starts from the template instead of running initdb.
 */
export async function openEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<PgliteDatabase> {
  const { logger, schema, onStatement } = options;
  const folder = path.resolve(options.dataDir, 'pglite');
  const dataDir = options.inMemory ? 'memory://' : folder;
  const isNew = options.inMemory || !existsSync(path.join(folder, 'PG_VERSION'));
  if (!isNew) {
    logger.info({ dataDir: folder }, `opening the embedded database in ${options.dataDir}…`);
    return createPgliteDatabase({ dataDir, schema, onStatement });
  }
  logger.info(
    { dataDir },
    options.inMemory
      ? 'creating the in-memory embedded database…'
      : `creating the embedded database in ${options.dataDir} (first start only)…`,
  );
  const db = await createPgliteDatabase({ dataDir, schema, onStatement, initialData: await loadPgliteTemplate(logger, options.templateDir) });
  try {
    await adoptTemplateSchema(db, schema);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}
