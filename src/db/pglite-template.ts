import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Queryable } from './database.js';
import { quoteIdentifier } from './database.js';
import { migrate, readMigrations, type Migration } from './migrate.js';
import { createPgliteDatabase } from './pglite-database.js';

/** The schema the template's migrations are applied in; a new database renames it to its own. */
const TEMPLATE_SCHEMA = 'recall_template';

/** PGlite's package folder, found the way Node finds it (src/ and dist/ alike). */
const PGLITE_DIR = path.resolve(path.dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), '..');

/**
 * Where templates are kept unless DATA_TEMPLATE_DIR says otherwise: the usual home of tool
 * caches, so that a fresh install (perhaps of another PGlite) starts without stale ones.
 */
const DEFAULT_TEMPLATE_DIR = path.resolve(PGLITE_DIR, '../../.cache/recall');

/**
 * A new embedded database, ready to load: initdb done and every migration applied, as PGlite's
 * gzipped data-directory tarball. Running initdb costs most of a first start (a second PGlite
 * and initdb's own WASM, about 7 s and 500 MB) and the migrations another second; loading this
 * costs about one second. It is built once per PGlite version and set of migrations, by
 * `npm install` (postinstall), `npm run build`, or the first start that lacks it, and kept in `templateDir`. A template that
 * cannot be saved (a read-only install) is still used for this start.
 */
export async function loadPgliteTemplate(logger: Logger, templateDir = DEFAULT_TEMPLATE_DIR): Promise<Blob> {
  const file = await templateFile(templateDir, await readMigrations());
  try {
    return new Blob([await readFile(file)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err: error, file }, 'could not read the embedded database template; building it again');
  }
  const started = performance.now();
  logger.info('building the embedded database template (once for this install and these migrations; later first starts load it)…');
  const template = await buildTemplate();
  try {
    await saveAtomically(file, template);
    logger.info({ file, ms: Math.round(performance.now() - started) }, 'saved the embedded database template');
  } catch (error) {
    logger.warn({ err: error, file }, 'could not save the embedded database template; the next first start builds it again');
  }
  return template;
}

/** Gives a database started from the template its configured schema (a new cluster's empty one makes way). */
export async function adoptTemplateSchema(db: Queryable, schema: string): Promise<void> {
  if (schema === TEMPLATE_SCHEMA) return;
  await db.exec(
    `DROP SCHEMA IF EXISTS ${quoteIdentifier(schema)}; ALTER SCHEMA ${TEMPLATE_SCHEMA} RENAME TO ${quoteIdentifier(schema)}`,
  );
}

async function buildTemplate(): Promise<Blob> {
  const db = await createPgliteDatabase({ dataDir: 'memory://', schema: TEMPLATE_SCHEMA });
  try {
    await migrate(db, TEMPLATE_SCHEMA);
    return await db.dumpDataDir();
  } finally {
    await db.close();
  }
}

/** Named by what makes a template: PGlite's version (its data-directory format) and the migrations. */
async function templateFile(templateDir: string, migrations: readonly Migration[]): Promise<string> {
  const { version } = JSON.parse(await readFile(path.join(PGLITE_DIR, 'package.json'), 'utf8')) as { version: string };
  const hash = createHash('sha256');
  for (const migration of migrations) hash.update(`${migration.name}\0${migration.sql}\0`);
  return path.join(templateDir, `pglite-${version}-${hash.digest('hex').slice(0, 16)}.tar.gz`);
}

/** Two first starts at once each write their own file and rename it: a reader never sees half a template. */
async function saveAtomically(file: string, template: Blob): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
  try {
    await writeFile(partial, new Uint8Array(await template.arrayBuffer()));
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
}
