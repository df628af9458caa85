/**
 * Builds the embedded database's template ahead of the first start: `npm install` (postinstall)
 * and `npm run build` run it, so that `npm start` on a fresh install loads a ready database
 * instead of running initdb and the migrations itself. It never fails the install: a template
 * it could not build now is built by the first start that lacks it.
 */
import { loadConfig } from '../src/config.js';
import { loadPgliteTemplate } from '../src/db/pglite-template.js';
import { createLogger } from '../src/observability/logger.js';

try {
  const config = loadConfig();
  await loadPgliteTemplate(createLogger(config), config.DATA_TEMPLATE_DIR);
} catch (error) {
  console.warn(`recall: the embedded database template was not built now (${(error as Error).message}); the first start will build it.`);
}
