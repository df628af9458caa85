/**
 * The rest of `npm run build` after tsc: copies the runtime files tsc does not emit (SQL, Lua,
 * GraphQL SDL) to where the compiled modules look for them (the same place relative to them as
 * in the sources), adds the `dist/main.js` entry point, and builds the embedded database's
 * template, so that no first start has to.
 */
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { loadPgliteTemplate } from '../src/db/pglite-template.js';
import { createLogger } from '../src/observability/logger.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'dist');

for (const folder of ['src', 'resolvers', 'schema']) {
  await cp(path.join(ROOT, folder), path.join(DIST, folder), {
    recursive: true,
    filter: (source) => !source.endsWith('.ts'),
  });
}
await writeFile(path.join(DIST, 'main.js'), "// Built by `npm run build`: the production entry point.\nimport './src/main.js';\n");

const config = loadConfig();
await loadPgliteTemplate(createLogger(config), config.DATA_TEMPLATE_DIR);
