/**
 * The miss path: the cached-hit benchmark's 20-memory list (context, and each memory's score)
 * with every entity warm in the cache-aside layer but the response cache off, so that every
 * request runs the query. Recall with its in-process cache and with L1 + Redis, each a server in
 * a process of its own (bench/miss-path-server.ts) over a fresh schema of the local PostgreSQL;
 * BENCH_BASELINE_CHECKOUT (the path of another checkout, with node_modules) adds the same two
 * servers running that checkout's app, side by side. Rounds interleave the set-ups, so that the
 * shared machine's drift falls on all alike; figures are medians over the rounds, and a ratio to
 * the baseline is the median of each round's ratio. Environment: BENCH_ROUNDS (default 3),
 * BENCH_SECONDS (default 4), BENCH_MISS_CONNECTIONS (default 16), BENCH_SERVER_NODE_OPTIONS
 * (e.g. `--cpu-prof`), BENCH_DATABASE_URL, BENCH_REDIS_URL.
 */
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { LIST_QUERY } from './cached-hit-query.js';
import { startServerProcess } from './server-process.js';
import { median } from './stats.js';

export interface MissPathOptions {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
}

interface Variant {
  id: 'recall' | 'recall-redis';
  name: string;
  /** The checkout whose app the server runs (undefined: this one). */
  checkout?: string;
}

export interface MissPathRow {
  id: Variant['id'];
  name: string;
  baseline: boolean;
  samples: number;
  rps: number;
  /** Server CPU time per request, µs. */
  cpuPerRequest: number;
  sqlPerRequest: number;
  p50: number;
  p99: number;
  /** Median of each round's req/s against the baseline's of the same set-up (null: no baseline, or this is it). */
  ratio: number | null;
  failed: number;
}

export function missPathOptions(): MissPathOptions {
  return {
    rounds: Number(process.env['BENCH_ROUNDS'] ?? 3),
    seconds: Number(process.env['BENCH_SECONDS'] ?? 4),
    warmupSeconds: 1,
    connections: Number(process.env['BENCH_MISS_CONNECTIONS'] ?? 16),
  };
}

function variants(): Variant[] {
  const ours: Variant[] = [
    { id: 'recall', name: 'Recall, in-process cache' },
    { id: 'recall-redis', name: 'Recall, L1 + Redis' },
  ];
  const baseline = process.env['BENCH_BASELINE_CHECKOUT'];
  if (!baseline) return ours;
  const label = process.env['BENCH_BASELINE_LABEL'] ?? baseline;
  return [...ours, ...ours.map((variant) => ({ ...variant, name: `${variant.name}, ${label}`, checkout: baseline }))];
}

interface Server {
  child: ChildProcess;
  url: string;
  request: autocannon.Request;
}

async function startServer(variant: Variant): Promise<Server> {
  const script = new URL('./miss-path-server.ts', import.meta.url).pathname;
  const { child, started } = await startServerProcess<{ port: number; token: string; contextId: string }>(
    variant.name,
    script,
    [variant.id, ...(variant.checkout ? [variant.checkout] : [])],
    variant.checkout,
  );
  const { port, token, contextId } = started;
  return {
    child,
    url: `http://127.0.0.1:${port}/graphql`,
    request: {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: LIST_QUERY, variables: { id: contextId }, operationName: 'List' }),
    },
  };
}

/** The server's CPU time so far (user + system, µs) and the SQL statements it has sent. */
function statsOf(child: ChildProcess): Promise<{ cpu: number; statements: number }> {
  return new Promise((resolve) => {
    child.once('message', (stats: NodeJS.CpuUsage & { statements: number }) => resolve({ cpu: stats.user + stats.system, statements: stats.statements }));
    child.send('stats');
  });
}

interface Sample {
  rps: number;
  requests: number;
  cpu: number;
  statements: number;
  p50: number;
  p99: number;
  failed: number;
}

async function measure(server: Server, options: MissPathOptions): Promise<Sample> {
  const fire = (duration: number) => autocannon({ url: server.url, connections: options.connections, duration, requests: [server.request] });
  await fire(options.warmupSeconds);
  const before = await statsOf(server.child);
  const result = await fire(options.seconds);
  const after = await statsOf(server.child);
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    cpu: after.cpu - before.cpu,
    statements: after.statements - before.statements,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

/** Every set-up must answer the same memories before it is measured. */
async function checkSameAnswers(servers: Server[]): Promise<void> {
  let expected: string | null = null;
  for (const server of servers) {
    const response = await fetch(server.url, { method: 'POST', headers: server.request.headers as Record<string, string>, body: server.request.body as string });
    const body = (await response.json()) as { data?: { context: { memories: { edges: Array<{ node: { content: string } }> } } } };
    const contents = JSON.stringify(body.data?.context.memories.edges.map((edge) => edge.node.content));
    expected ??= contents;
    if (response.status !== 200 || contents !== expected) throw new Error(`a miss-path server answered differently: ${response.status} ${contents}`);
  }
}

export async function benchmarkMissPath(options: MissPathOptions): Promise<MissPathRow[]> {
  const chosen = variants();
  const servers: Server[] = [];
  const samples: Sample[][] = chosen.map(() => []);
  try {
    for (const variant of chosen) {
      process.stdout.write(`miss path · starting ${variant.name}…\n`);
      servers.push(await startServer(variant));
    }
    await checkSameAnswers(servers);
    for (let round = 0; round < options.rounds; round++) {
      for (const [index, variant] of chosen.entries()) {
        process.stdout.write(`miss path · round ${round + 1} · ${variant.name}…\n`);
        samples[index]!.push(await measure(servers[index]!, options));
      }
    }
  } finally {
    for (const server of servers) {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
  }
  return chosen.map((variant, index): MissPathRow => {
    const runs = samples[index]!;
    const baselineIndex = variant.checkout ? -1 : chosen.findIndex((other) => other.checkout && other.id === variant.id);
    const perRequest = (value: (sample: Sample) => number) => median(runs.map((sample) => value(sample) / Math.max(1, sample.requests)));
    return {
      id: variant.id,
      name: variant.name,
      baseline: variant.checkout !== undefined,
      samples: runs.length,
      rps: median(runs.map((sample) => sample.rps)),
      cpuPerRequest: perRequest((sample) => sample.cpu),
      sqlPerRequest: perRequest((sample) => sample.statements),
      p50: median(runs.map((sample) => sample.p50)),
      p99: median(runs.map((sample) => sample.p99)),
      ratio: baselineIndex < 0 ? null : median(runs.map((sample, round) => sample.rps / samples[baselineIndex]![round]!.rps)),
      failed: runs.reduce((sum, sample) => sum + sample.failed, 0),
    };
  });
}

/** The command that reproduces these settings. */
function command(options: MissPathOptions): string {
  const env = [
    `BENCH_ROUNDS=${options.rounds}`,
    `BENCH_SECONDS=${options.seconds}`,
    `BENCH_MISS_CONNECTIONS=${options.connections}`,
    ...['BENCH_BASELINE_CHECKOUT', 'BENCH_WRITE_RESULTS'].filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`),
  ];
  return `${env.join(' ')} npm run bench -- miss-path`;
}

/** The benchmark's section of bench/RESULTS.md. */
export function missPathReport(rows: MissPathRow[], options: MissPathOptions): string {
  const lines = rows.map(
    (row) =>
      `| ${row.name} | ${row.rps.toFixed(0)} | ${row.ratio === null ? '–' : `${row.ratio.toFixed(2)}×`} | ${row.cpuPerRequest.toFixed(0)} | ${row.sqlPerRequest.toFixed(2)} | ${row.p50} | ${row.p99} | ${row.failed} |`,
  );
  const target = rows
    .filter((row) => row.ratio !== null)
    .map((row) => `- ${row.name}: ${row.ratio!.toFixed(3)}× the baseline's req/s (target ≥ 3×: ${row.ratio! >= 3 ? 'met' : '**not met**'}), ${row.sqlPerRequest.toFixed(2)} SQL statements per request (target 0: ${row.sqlPerRequest < 0.005 ? 'met' : '**not met**'}).`);
  return `## Miss path

The cached-hit benchmark's 20-memory list (bench/cached-hit-query.ts) with the response cache
off, so that every request runs the query, and every entity warm in the cache-aside layer. Each
set-up is a server in a process of its own over the local PostgreSQL (bench/miss-path-server.ts),
loaded by autocannon at ${options.connections} connections, ${options.seconds} s measured after a ${options.warmupSeconds} s warm-up, ${options.rounds} interleaved
rounds, medians. CPU is the server process's, per request. Produced by \`${command(options)}\`.
${target.length > 0 ? `\n${target.join('\n')}\n` : ''}
| set-up | req/s | × baseline | CPU µs/req | SQL / req | p50 ms | p99 ms | failed |
|---|---:|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = missPathOptions();
  process.stdout.write(`\n${missPathReport(await benchmarkMissPath(options), options)}`);
}
