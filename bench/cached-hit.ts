/**
 * The cached-hit path: the same 20-memory query, repeated, against a raw node:http server that
 * sends the same fixed body (the floor), yoga with its stock in-memory response cache, and
 * Recall (with its fast path, in-process and on Redis, and through yoga's pipeline). Each
 * server runs in a child process of its own; the load generator runs here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { LIST_QUERY } from './cached-hit-query.js';
import { median } from './stats.js';

interface Variant {
  /** What bench/cached-hit-server.ts is asked to start. */
  id: string;
  name: string;
  /** The checkout whose bench/cached-hit-server.ts runs it (by default, this one). */
  checkout?: string;
}

const ALL_VARIANTS: Variant[] = [
  { id: 'floor', name: "raw node:http, Recall's reply as fixed bytes (floor)" },
  { id: 'floor-data', name: 'raw node:http, the data alone (the floor before issue 9)' },
  { id: 'stock-yoga', name: 'yoga + stock in-memory response cache' },
  { id: 'recall', name: 'Recall cached hit (in-process cache)' },
  { id: 'recall-redis', name: 'Recall cached hit (Redis)' },
  { id: 'recall-yoga-path', name: "Recall cached hit through yoga's pipeline (no fast path)" },
];

/**
 * The set-ups measured: all of them, or those BENCH_VARIANTS names (comma-separated ids; the
 * floor always comes first, as ratios are taken to it). BENCH_BASELINE_CHECKOUT, the path of
 * another checkout (with node_modules), adds its recall and recall-redis servers, side by side
 * with this one's.
 */
function variants(): Variant[] {
  const wanted = process.env['BENCH_VARIANTS']?.split(',').map((id) => id.trim());
  const chosen = ALL_VARIANTS.filter((variant) => variant.id === 'floor' || !wanted || wanted.includes(variant.id));
  const baseline = process.env['BENCH_BASELINE_CHECKOUT'];
  if (baseline) {
    const label = process.env['BENCH_BASELINE_LABEL'] ?? baseline;
    chosen.push(
      { id: 'recall', name: `Recall cached hit (in-process cache), ${label}`, checkout: baseline },
      { id: 'recall-redis', name: `Recall cached hit (Redis), ${label}`, checkout: baseline },
    );
  }
  return chosen;
}

interface Started {
  child: ChildProcess;
  port: number;
  token: string;
  contextId: string;
  body: string;
}

async function startServer(variant: Variant): Promise<Started> {
  const script = variant.checkout ? `${variant.checkout}/bench/cached-hit-server.ts` : new URL('./cached-hit-server.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', ...(process.env['BENCH_SERVER_NODE_OPTIONS']?.split(' ').filter(Boolean) ?? []), script, variant.id], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    // As deployed (the Dockerfile sets it): graphql-js checks its types' realms when it is not.
    env: { ...process.env, NODE_ENV: process.env['NODE_ENV'] ?? 'production' },
    ...(variant.checkout ? { cwd: variant.checkout } : {}),
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the ${variant.name} server exited with ${code}`)));
  });
  return { child, ...(JSON.parse(line) as Omit<Started, 'child'>) };
}

/** CPU time (user + system) the server process has used so far, in µs. */
function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (usage: NodeJS.CpuUsage) => resolve(usage.user + usage.system));
    child.send('cpu');
  });
}

export interface CachedHitRow {
  /** The server variant, and the checkout it ran from (undefined: this one). */
  id: string;
  checkout: string | undefined;
  name: string;
  /** The body of one 200 reply, in bytes. */
  bodyBytes: number;
  /** Median over the rounds. */
  rps: number;
  /** Median over the rounds of the ratio to the floor measured in the same round. */
  ratio: number;
  /** Server CPU time per request, µs (median over the rounds): the cost, whoever is the bottleneck. */
  cpuPerRequest: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

interface Target {
  variant: Variant;
  name: string;
  bodyBytes: number;
  url: string;
  request: autocannon.Request;
  server: Started;
}

/**
 * All servers start first; then each round measures every one of them in turn, so that the
 * machine's drift over time (it is shared) falls on all of them alike.
 */
export async function benchmarkCachedHits(options: { seconds: number; warmupSeconds: number; connections: number; rounds: number }): Promise<CachedHitRow[]> {
  const targets: Target[] = [];
  try {
    for (const variant of variants()) {
      process.stdout.write(`cached hit · starting ${variant.name}…\n`);
      const server = await startServer(variant);
      const url = `http://127.0.0.1:${server.port}/graphql`;
      const request: autocannon.Request = {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${server.token}`,
        },
        body: JSON.stringify({ query: LIST_QUERY, variables: { id: server.contextId }, operationName: 'List' }),
      };
      targets.push({ variant, name: variant.name, bodyBytes: 0, url, request, server });
    }
    await checkSameAnswers(targets);
    const results = targets.map(() => [] as autocannon.Result[]);
    const cpu = targets.map(() => [] as number[]);
    for (let round = 0; round < options.rounds; round++) {
      for (const [index, target] of targets.entries()) {
        process.stdout.write(`cached hit · round ${round + 1} · ${target.name}…\n`);
        const run = (duration: number) =>
          autocannon({ url: target.url, connections: options.connections, duration, requests: [target.request] });
        await run(options.warmupSeconds);
        const before = await cpuOf(target.server.child);
        const result = await run(options.seconds);
        cpu[index]!.push((await cpuOf(target.server.child)) - before);
        results[index]!.push(result);
      }
    }
    return targets.map((target, index) => {
      const runs = results[index]!;
      return {
        id: target.variant.id,
        checkout: target.variant.checkout,
        name: target.name,
        bodyBytes: target.bodyBytes,
        rps: median(runs.map((run) => run.requests.average)),
        ratio: median(runs.map((run, round) => run.requests.average / results[0]![round]!.requests.average)),
        cpuPerRequest: median(runs.map((run, round) => cpu[index]![round]! / Math.max(1, run.requests.total))),
        p50: median(runs.map((run) => run.latency.p50)),
        p99: median(runs.map((run) => run.latency.p99)),
        non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
        errors: runs.reduce((sum, run) => sum + run.errors + run.timeouts, 0),
      };
    });
  } finally {
    for (const target of targets) {
      target.server.child.kill('SIGTERM');
      await new Promise((resolve) => target.server.child.once('exit', resolve));
    }
  }
}

/** Every variant must answer the same memories (ids and scores differ between their databases). */
async function checkSameAnswers(targets: Target[]): Promise<void> {
  let expected: string | null = null;
  for (const target of targets) {
    // The first request fills the caches.
    for (let i = 0; i < 2; i++) {
      const response = await fetch(target.url, { method: 'POST', headers: target.request.headers as Record<string, string>, body: target.request.body as string });
      const text = await response.text();
      target.bodyBytes = Buffer.byteLength(text);
      const body = JSON.parse(text) as { data?: { context: { memories: { edges: Array<{ node: { content: string } }> } } } };
      const contents = JSON.stringify(body.data?.context.memories.edges.map((edge) => edge.node.content));
      expected ??= contents;
      if (response.status !== 200 || contents !== expected) throw new Error(`${target.name} answered differently: ${response.status} ${contents}`);
    }
  }
}

export function cachedHitReport(rows: CachedHitRow[], options: { seconds: number; connections: number; rounds: number }): string {
  const floor = rows[0]!;
  const table = [
    '| set-up | req/s | × floor | server CPU µs / req | floor CPU ÷ this | p50 ms | p99 ms | body bytes | non-2xx | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (row) =>
        `| ${row.name} | ${Math.round(row.rps)} | ${row.ratio.toFixed(2)} | ${row.cpuPerRequest.toFixed(0)} | ${(floor.cpuPerRequest / row.cpuPerRequest).toFixed(2)} | ${row.p50} | ${row.p99} | ${row.bodyBytes} | ${row.non2xx} | ${row.errors} |`,
    ),
  ].join('\n');
  const ofThisCheckout = (id: string) => rows.find((row) => row.id === id && row.checkout === undefined);
  const measured = [
    ['in process', ofThisCheckout('recall')],
    ['with Redis', ofThisCheckout('recall-redis')],
  ]
    .filter((entry): entry is [string, CachedHitRow] => entry[1] !== undefined)
    .map(([where, row]) => `**${row.ratio.toFixed(2)}×** the floor's req/s ${where} (**${(floor.cpuPerRequest / row.cpuPerRequest).toFixed(2)}×** by CPU per request)`);
  return `## Cached hit against the floor

The same 20-memory query (context, relevance), repeated by one user: ${options.connections} connections,
${options.seconds} s measured after a warm-up, in ${options.rounds} rounds that take every set-up in turn;
req/s and latencies are medians over the rounds, and "× floor" is the median of each round's
ratio to the floor measured in that round. The floor sends Recall's own reply to a hit as fixed
bytes (its body, with \`extensions.cost\`, and its headers). Each server runs in a child process of
its own (NODE_ENV=production, as the Dockerfile sets it), the load generator (autocannon) in this
one. Every Recall row validates the bearer token, costs the operation and spends its points from
the budget on every request; logging is off in every set-up. "Server CPU µs / req" is the CPU
time the server process spent per answered request: unlike req/s it does not depend on whether
the server or the load generator (one process, sharing the machine) is the bottleneck, so
"floor CPU ÷ this" is the steadier ratio. Measured here: ${measured.join(', and ') || 'no Recall row'}.

${table}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = { seconds: Number(process.env['BENCH_SECONDS'] ?? 5), warmupSeconds: 1, connections: 16, rounds: Number(process.env['BENCH_ROUNDS'] ?? 3) };
  process.stdout.write(`${cachedHitReport(await benchmarkCachedHits(options), options)}\n`);
}
