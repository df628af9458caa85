import { heavyOperations, measureHeavy, pageCursors, seedHeavy } from './cost-heavy.js';
const env = { BENCH_DATA_DIR: '/tmp/recall-cost-pglite' };
const seeded = await seedHeavy(env);
const cursors = await pageCursors(env, seeded);
console.log('cursors', cursors.length);
const ops = heavyOperations(seeded, cursors);
const only = process.argv[2] ? ops.filter((_, i) => String(i) === process.argv[2]) : ops;
for (const op of only) console.log(op.name);
console.log(JSON.stringify(await measureHeavy(env, seeded, only), null, 1));
