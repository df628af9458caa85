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

const VARIANTS = [
  { id: 'floor', name: 'raw node:http, fixed body (floor)' },
  { id: 'stock-yoga', name: 'yoga + stock in-memory response cache' },
  { id: 'recall', name: 'Recall cached hit (in-process cache)' },
  { id: 'recall-redis', name: 'Recall cached hit (Redis)' },
  { id: 'recall-yoga-path', name: "Recall cached hit through yoga's pipeline (no fast path)" },
] as const;

interface Started {
  child: ChildProcess;
  port: number;
  token: string;
  contextId: string;
  body: string;
}

async function startServer(variant: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./cached-hit-server.ts', import.meta.url).pathname, variant], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the ${variant} server exited with ${code}`)));
  });
  return { child, ...(JSON.parse(line) as Omit<Started, 'child'>) };
}

export interface CachedHitRow {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export async function benchmarkCachedHits(options: { seconds: number; warmupSeconds: number; connections: number }): Promise<CachedHitRow[]> {
  const rows: CachedHitRow[] = [];
  let expected: string | null = null;
  for (const variant of VARIANTS) {
    process.stdout.write(`cached hit · ${variant.name}…\n`);
    const server = await startServer(variant.id);
    try {
      const url = `http://127.0.0.1:${server.port}/graphql`;
      const request = {
        method: 'POST' as const,
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${server.token}`,
        },
        body: JSON.stringify({ query: LIST_QUERY, variables: { id: server.contextId }, operationName: 'List' }),
      };
      // Every variant must answer the same memories (ids and scores differ between their
      // databases); the first request fills the caches.
      for (let i = 0; i < 2; i++) {
        const response = await fetch(url, request);
        const body = (await response.json()) as { data?: { context: { memories: { edges: Array<{ node: { content: string } }> } } } };
        const contents = JSON.stringify(body.data?.context.memories.edges.map((edge) => edge.node.content));
        expected ??= contents;
        if (response.status !== 200 || contents !== expected) throw new Error(`${variant.id} answered differently: ${response.status} ${contents}`);
      }
      const run = (duration: number) =>
        autocannon({ url, connections: options.connections, duration, requests: [request] });
      await run(options.warmupSeconds);
      const result = await run(options.seconds);
      rows.push({
        name: variant.name,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors + result.timeouts,
      });
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
    }
  }
  return rows;
}

export function cachedHitReport(rows: CachedHitRow[], options: { seconds: number; connections: number }): string {
  const floor = rows[0]!.rps;
  const table = [
    '| set-up | req/s | × floor | p50 ms | p99 ms | non-2xx | errors |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((row) => `| ${row.name} | ${Math.round(row.rps)} | ${(row.rps / floor).toFixed(2)} | ${row.p50} | ${row.p99} | ${row.non2xx} | ${row.errors} |`),
  ].join('\n');
  const recall = rows.find((row) => row.name.startsWith('Recall cached hit (in-process'))!;
  return `## Cached hit against the floor

The same 20-memory query (context, relevance), repeated by one user: ${options.connections} connections,
${options.seconds} s measured after a warm-up. Each server runs in a child process of its own (one
core), the load generator in another. Every Recall row validates the bearer token and spends the
operation budget on every request. Target: Recall's cached hit at ≥ 0.5× the floor; measured
here: **${(recall.rps / floor).toFixed(2)}×**.

${table}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = { seconds: Number(process.env['BENCH_SECONDS'] ?? 5), warmupSeconds: 1, connections: 16 };
  process.stdout.write(`${cachedHitReport(await benchmarkCachedHits(options), options)}\n`);
}
