/**
 * The cached hit against the floor with the cost budget on: bench/cached-hit.ts, run several
 * times (each run takes every set-up in turn, round after round), summarised as the median and
 * the range over the runs. Targets (issue 9): at least 0.52× the floor in process and 0.41× with
 * Redis, the figures of an earlier run of this benchmark at 16 connections.
 */
import { benchmarkCachedHits } from './cached-hit.js';
import { cachedHitReport, type CachedHitRow } from './cached-hit-report.js';
import { median } from './stats.js';

const TARGETS: Record<string, number> = { recall: 0.52, 'recall-redis': 0.41 };

export async function benchmarkCachedHitRuns(command: string): Promise<string> {
  process.env['BENCH_VARIANTS'] ??= 'floor,floor-data,recall,recall-redis';
  const count = Number(process.env['BENCH_CACHED_HIT_RUNS'] ?? 3);
  const options = { runs: 1, seconds: Number(process.env['BENCH_SECONDS'] ?? 5), warmupSeconds: 1, connections: [16], rounds: Number(process.env['BENCH_ROUNDS'] ?? 3) };
  const runs: CachedHitRow[][] = [];
  for (let run = 0; run < count; run++) {
    process.stdout.write(`cached hit · run ${run + 1} of ${count}\n`);
    runs.push(await benchmarkCachedHits(options));
  }
  const names = runs[0]!.map((row) => row.name);
  const spread = (values: number[], digits = 2) => `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;
  const across = (name: string, pick: (row: CachedHitRow, run: CachedHitRow[]) => number) =>
    runs.map((run) => pick(run.find((row) => row.name === name)!, run));
  const floorData = (run: CachedHitRow[]) => run.find((row) => row.id === 'floor-data' && !row.checkout);
  const table = [
    '| set-up | × floor (req/s) | floor CPU ÷ this | × the data-only floor (req/s) | server CPU µs / req | req/s | body bytes |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...names.map((name) => {
      const toData = runs.every((run) => floorData(run)) ? spread(across(name, (row, run) => row.rps / floorData(run)!.rps)) : '–';
      return `| ${name} | ${spread(across(name, (row) => row.ratio))} | ${spread(across(name, (row, run) => run[0]!.cpuPerRequest / row.cpuPerRequest))} | ${toData} | ${spread(
        across(name, (row) => row.cpuPerRequest),
        0,
      )} | ${spread(across(name, (row) => row.rps), 0)} | ${runs[0]!.find((row) => row.name === name)!.bodyBytes} |`;
    }),
  ].join('\n');
  const verdicts = Object.entries(TARGETS).flatMap(([id, target]) => {
    const name = runs[0]!.find((row) => row.id === id && !row.checkout)?.name;
    if (!name) return [];
    const ratio = median(across(name, (row) => row.ratio));
    const cpu = median(across(name, (row, run) => run[0]!.cpuPerRequest / row.cpuPerRequest));
    return [`${name}: **${ratio.toFixed(2)}×** the floor by req/s, ${cpu.toFixed(2)}× by CPU per request (target ≥ ${target}×: ${ratio >= target ? 'met' : '**not met**'})`];
  });
  const last = cachedHitReport(runs.at(-1)!, options).replace(/^## Cached hit against the floor\n/, '');
  return `### Cached hit against the floor, with the cost budget on

${command} (bench/cost-cached-hit.ts): bench/cached-hit.ts (\`npm run bench:cached-hit\`) run
${count} times, one after another; each run starts every server, then takes each set-up in
turn for ${options.rounds} rounds of ${options.seconds} s at ${options.connections} connections, and gives each set-up the median of its
rounds' ratios to the floor of the same round. Below: the median over the ${count} runs, and their range.
The floor now sends Recall's own reply to a hit as fixed bytes (its body with \`extensions.cost\`,
and its headers); "the data-only floor" is the floor as it was before issue 9 (\`{"data":…}\`
and one header). Every Recall request authenticates, costs its operation (the 20-memory list:
1 point) and spends it from the budget (in process, or in Redis with one \`spend-n.lua\` call).

${verdicts.map((line) => `- ${line}`).join('\n')}

${table}

The last run in full:
${last}`;
}
