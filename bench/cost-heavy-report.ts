/** The heavy-operation benchmark's rows as a RESULTS.md subsection, each checked against issue 9's target. */
import type { HeavyRow } from './cost-heavy.js';

const SECONDS_TARGET_MS = 1_000;
const MEMORY_TARGET_MB = 100;

export function heavyReport(rows: HeavyRow[], options: { part: string; command: string; database: string; seedSeconds: number }): string {
  const accepted = (row: HeavyRow) => !row.status.includes('COST_ESTIMATED_TOO_EXPENSIVE');
  const verdict = (row: HeavyRow) => {
    if (!accepted(row)) return 'refused';
    const misses = [row.ms.max >= SECONDS_TARGET_MS ? '> 1 s' : '', row.rssPeakMb >= MEMORY_TARGET_MB ? '> 100 MB' : ''].filter(Boolean);
    return misses.length ? `**missed** (${misses.join(', ')})` : 'met';
  };
  const f = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '–');
  const table = [
    '| operation | nodes | points | status | body bytes | ms (median, max) | server CPU ms | RSS peak +MB | RSS after +MB | heap peak +MB | heap after +MB | slowest /livez ms | target |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${row.nodes.toLocaleString('en')} | ${row.points.toLocaleString('en')} | ${row.status} | ${row.bytes.toLocaleString('en')} | ${f(row.ms.median)}, ${f(row.ms.max)} | ${f(row.cpuMs)} | ${f(row.rssPeakMb)} | ${f(row.rssRetainedMb)} | ${f(row.heapPeakMb)} | ${f(row.heapRetainedMb)} | ${f(row.livezMaxMs)} | ${verdict(row)} |`,
    ),
  ].join('\n');
  const missed = rows.filter((row) => accepted(row) && verdict(row) !== 'met');
  const title = options.part === 'heavy' ? 'embedded PGlite' : 'PostgreSQL';
  return `### The heaviest operations of a FREE user (${title})

${options.command} (bench/cost-heavy.ts, bench/cost-heavy-server.ts), on ${options.database}: one
FREE user with issue 9's probe data, a context of 2,000 memories of 8,000 characters ("probe"),
plus 100 such memories each updated 100 times ("edited": 101 history events, 8,000 characters
before and after each) and 100 with the most metadata a memory may carry, 16 KB ("metadata");
seeded through the API in ${options.seedSeconds.toFixed(0)} s. Each operation is sized to the largest that
MAX_OPERATION_COST (50) accepts, or as its shape allows, and runs ${'3'} times (a new document each
time, so no cache answers it) on a server of its own in a child process (default settings but
for the budget and the search limit, raised so that repeats are not refused; NODE_ENV=production,
a few cheap requests first). Memory is growth over the server's RSS (VmRSS, VmHWM reset before
each run) and JS heap, measured after a full collection before the run: at its peak, and after a
collection once it is answered. With PGlite the database lives in the server's process, so its
memory counts too. "Slowest /livez": the slowest answer to /livez, polled every 20 ms during the
operation. Target (issue 9): every accepted operation of a FREE user finishes in under 1 s and
under 100 MB.

${table}

${missed.length === 0 ? 'Every accepted operation met the target.' : `**Target missed** by ${missed.length} of ${rows.filter(accepted).length} accepted operations.`}`;
}
