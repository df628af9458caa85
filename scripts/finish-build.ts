/**
 * The rest of `npm run build` after tsc: copies the runtime files tsc does not emit (SQL, Lua,
 * GraphQL SDL) to where the compiled modules look for them (the same place relative to them as
 * in the sources), and adds the `dist/main.js` entry point.
 */
import { cp, writeFile } from 'node:fs/promises';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const DIST = path.join(ROOT, 'dist');

for (const folder of ['src', 'resolvers', 'schema']) {
  await cp(path.join(ROOT, folder), path.join(DIST, folder), {
    recursive: true,
    filter: (source) => !source.endsWith('.ts'),
  });
}
await writeFile(path.join(DIST, 'main.js'), "// Built by `npm run build`: the production entry point.\nimport './src/main.js';\n");
