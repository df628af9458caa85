/**
 * `npm run bench:cost`: issue 9's benchmark, written into bench/RESULTS.md under "Issue 9:
 * costs and limits", one subsection per part; `npm run bench:cost -- overhead heavy` runs (and
 * rewrites) only those parts. Parts:
 *   overhead    what costing adds per operation, the costs of a few operations, the stall query's refusal;
 *   cached-hit  the cached-hit benchmark (bench/cached-hit.ts) run BENCH_CACHED_HIT_RUNS times
 *               (default 3), with the cost budget on: medians and ranges of the ratios to the floor;
 *   heavy       the heaviest operations a FREE user may run, on issue 9's probe data, in embedded PGlite;
 *   heavy-pg    the same on PostgreSQL (BENCH_DATABASE_URL, default the local one; a fresh schema, dropped after).
 * BENCH_BASELINE_CHECKOUT (a checkout of another commit, with node_modules) adds that commit's
 * Recall servers to the cached-hit runs, side by side; BENCH_BASELINE_LABEL names it.
 * BENCH_HEAVY_SEED (a file) keeps the heavy part's seed between runs, with BENCH_DATA_DIR.
 * BENCH_COMMIT names the commit measured when this is not a git checkout (an exported snapshot).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';

// As deployed (the Dockerfile sets it), before graphql-js is loaded: it reads it once.
process.env['NODE_ENV'] ??= 'production';

const PARTS = ['overhead', 'cached-hit', 'heavy', 'heavy-pg'] as const;
type Part = (typeof PARTS)[number];
const chosen = process.argv.slice(2).filter((arg): arg is Part => (PARTS as readonly string[]).includes(arg));
const runs = (part: Part) => chosen.length === 0 || chosen.includes(part);
const command = (part: Part) => `\`npm run bench:cost -- ${part}\``;

const { ISSUE_9, writeSubsections } = await import('./results-file.js');
const subsections: string[] = [];
// Others may be using the machine: each part says how busy it was, and what code it measured.
let loadAtStart = os.loadavg()[0]!;
const commit = process.env['BENCH_COMMIT'] ?? commitOf();
const withLoad = (text: string) => {
  const note = `${text}\n\nMeasured at commit ${commit}. Load average (1 min) of the machine: ${loadAtStart.toFixed(1)} when this part began, ${os.loadavg()[0]!.toFixed(1)} when it ended (${os.cpus().length} cores).`;
  loadAtStart = os.loadavg()[0]!;
  return note;
};

if (runs('overhead')) {
  const { benchmarkCostOverhead } = await import('./cost-overhead.js');
  subsections.push(withLoad(await benchmarkCostOverhead()));
}

if (runs('cached-hit')) {
  const { benchmarkCachedHitRuns } = await import('./cost-cached-hit.js');
  subsections.push(withLoad(await benchmarkCachedHitRuns(command('cached-hit'))));
}

for (const part of ['heavy', 'heavy-pg'] as const) {
  if (!runs(part)) continue;
  const { heavyReport } = await import('./cost-heavy-report.js');
  const { heavyOperations, measureHeavy, pageCursors, seedHeavy } = await import('./cost-heavy.js');
  const run = randomBytes(4).toString('hex');
  const databaseUrl = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
  const dataDir = process.env['BENCH_DATA_DIR'] ?? `${os.tmpdir()}/recall-cost-${run}`;
  const env: Record<string, string> =
    part === 'heavy' ? { BENCH_DATA_DIR: dataDir } : { BENCH_DATABASE_URL: databaseUrl, BENCH_DATABASE_SCHEMA: `recall_cost_${run}` };
  try {
    const started = performance.now();
    const seeded = await seedHeavy(env);
    const seedSeconds = (performance.now() - started) / 1000;
    const rows = await measureHeavy(env, seeded, heavyOperations(seeded, await pageCursors(env, seeded)));
    subsections.push(withLoad(heavyReport(rows, { part, command: command(part), database: part === 'heavy' ? 'embedded PGlite (DATA_DIR)' : 'PostgreSQL on loopback', seedSeconds })));
  } finally {
    if (part === 'heavy' && !process.env['BENCH_DATA_DIR']) rmSync(dataDir, { recursive: true, force: true });
    if (part === 'heavy-pg') {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${env['BENCH_DATABASE_SCHEMA']}" CASCADE`);
      await client.end();
    }
  }
}

/** This checkout's commit, marked when its source differs from it; 'unknown' outside git (BENCH_COMMIT then names it). */
function commitOf(): string {
  try {
    const root = new URL('..', import.meta.url).pathname;
    const sha = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const changed = execFileSync('git', ['-C', root, 'status', '--porcelain', '--', 'src', 'schema', 'resolvers'], { encoding: 'utf8' }).trim();
    return changed ? `${sha} (with uncommitted changes to src)` : sha;
  } catch {
    return 'unknown';
  }
}

await writeSubsections(
  ISSUE_9,
  `What issue 9 asks of the benchmark: what costing adds to each operation, the cached hit's ratio
to the floor with the cost budget on, and the heaviest operations a FREE user may run. Written by
\`npm run bench:cost\` (bench/cost.ts) on ${new Date().toISOString().slice(0, 10)}: Node ${process.version},
${os.cpus().length} cores, PostgreSQL and Redis on loopback, NODE_ENV=production (as the Dockerfile
sets it); each subsection names the command that produced it. The machine is shared and noisy:
compare rows measured side by side in one run.`,
  subsections,
);
process.stdout.write(`\n${subsections.join('\n\n')}\n`);
process.exit(0);
