/**
 * The cached-hit path: the same 20-memory query, repeated, against a raw node:http server that
 * sends Recall's reply as fixed bytes (the floor), Recall (its fast path, in process and on
 * Redis), and its peers with their own response caches (bench/cached-hit-peers.ts). Each server
 * runs in a child process of its own; the load generator runs here.
 *
 * Runs × rounds: each run starts every server afresh; each round measures every set-up in turn at
 * every connection count, so that the machine's drift (it is shared) falls on all alike. The
 * figures are medians over all rounds of all runs. Environment: BENCH_RUNS (default 3),
 * BENCH_ROUNDS (rounds per run, default 2), BENCH_SECONDS (measured seconds, default 3),
 * BENCH_CONNECTIONS (default "50,16"), BENCH_VARIANTS and BENCH_BASELINE_CHECKOUT (see variants()).
 */
import type { ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { LIST_QUERY } from './cached-hit-query.js';
import { cachedHitReport, type CachedHitOptions, type CachedHitRow } from './cached-hit-report.js';
import { startServerProcess } from './server-process.js';
import { median } from './stats.js';

export interface Variant {
  /** What bench/cached-hit-server.ts is asked to start. */
  id: string;
  name: string;
  /** A stock server measured beside Recall (bench/cached-hit-peers.ts). */
  peer?: boolean;
  /** Its cache is in Redis. */
  redis?: boolean;
  /** Measured only when BENCH_VARIANTS names it. */
  optional?: boolean;
  /** The checkout whose bench/cached-hit-server.ts runs it (by default, this one). */
  checkout?: string;
}

const ALL_VARIANTS: Variant[] = [
  { id: 'floor', name: "raw node:http, Recall's reply as fixed bytes (floor)" },
  { id: 'floor-data', name: 'raw node:http, the data alone (the floor before issue 9)', optional: true },
  { id: 'recall', name: 'Recall cached hit (in-process cache)' },
  { id: 'recall-redis', name: 'Recall cached hit (Redis)', redis: true },
  { id: 'recall-yoga-path', name: "Recall cached hit through yoga's pipeline (no fast path)", optional: true },
  { id: 'apollo', name: 'Apollo Server 5 + response cache (in process)', peer: true },
  { id: 'apollo-redis', name: 'Apollo Server 5 + response cache (Keyv Redis)', peer: true, redis: true },
  { id: 'mercurius', name: 'Mercurius (jit: 1) + mercurius-cache (in process)', peer: true },
  { id: 'stock-yoga', name: 'yoga + stock response cache (in process)', peer: true },
];

/**
 * The set-ups measured: all but the optional ones, or those BENCH_VARIANTS names (comma-separated
 * ids; the floor always comes first, as ratios are taken to it). BENCH_BASELINE_CHECKOUT, the
 * path of another checkout (with node_modules), adds its recall and recall-redis servers, side by
 * side with this one's.
 */
function variants(): Variant[] {
  const wanted = process.env['BENCH_VARIANTS']?.split(',').map((id) => id.trim());
  const chosen = ALL_VARIANTS.filter((variant) => variant.id === 'floor' || (wanted ? wanted.includes(variant.id) : !variant.optional));
  const baseline = process.env['BENCH_BASELINE_CHECKOUT'];
  if (baseline) {
    const label = process.env['BENCH_BASELINE_LABEL'] ?? baseline;
    chosen.push(
      { id: 'recall', name: `Recall cached hit (in-process cache), ${label}`, checkout: baseline },
      { id: 'recall-redis', name: `Recall cached hit (Redis), ${label}`, checkout: baseline, redis: true },
    );
  }
  return chosen;
}

/** The options the environment gives (the defaults keep a whole `npm run bench` short). */
export function cachedHitOptions(): CachedHitOptions {
  return {
    runs: Number(process.env['BENCH_RUNS'] ?? 3),
    rounds: Number(process.env['BENCH_ROUNDS'] ?? 2),
    seconds: Number(process.env['BENCH_SECONDS'] ?? 3),
    warmupSeconds: 1,
    connections: (process.env['BENCH_CONNECTIONS'] ?? '50,16').split(',').map(Number),
  };
}

interface Started {
  child: ChildProcess;
  port: number;
  token: string;
  contextId: string;
}

async function startServer(variant: Variant): Promise<Started> {
  const script = variant.checkout ? `${variant.checkout}/bench/cached-hit-server.ts` : new URL('./cached-hit-server.ts', import.meta.url).pathname;
  const { child, started } = await startServerProcess<Omit<Started, 'child'>>(variant.name, script, [variant.id], variant.checkout);
  return { child, ...started };
}

interface ServerStats {
  /** CPU time (user + system) the server process has used so far, µs. */
  cpu: number;
  /** Runs of the query's root resolver so far (peers; null where not counted). */
  rootResolverRuns: number | null;
}

function statsOf(child: ChildProcess): Promise<ServerStats> {
  return new Promise((resolve) => {
    // A baseline checkout's server may answer with its CPU usage alone.
    child.once('message', (stats: NodeJS.CpuUsage & { rootResolverRuns?: number | null }) =>
      resolve({ cpu: stats.user + stats.system, rootResolverRuns: stats.rootResolverRuns ?? null }),
    );
    child.send('stats');
  });
}

/** CPU time redis-server has used so far, µs (INFO cpu: its main thread and children, user + system). */
async function redisCpu(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

interface Target {
  variant: Variant;
  bodyBytes: number;
  url: string;
  request: autocannon.Request;
  server: Started;
}

/** One measured run of one set-up. */
interface Sample {
  rps: number;
  requests: number;
  serverCpu: number;
  redisCpu: number;
  rootResolverRuns: number | null;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function startTargets(): Promise<Target[]> {
  const targets: Target[] = [];
  try {
    for (const variant of variants()) {
      process.stdout.write(`cached hit · starting ${variant.name}…\n`);
      const server = await startServer(variant);
      const request: autocannon.Request = {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${server.token}` },
        body: JSON.stringify({ query: LIST_QUERY, variables: { id: server.contextId }, operationName: 'List' }),
      };
      targets.push({ variant, bodyBytes: 0, url: `http://127.0.0.1:${server.port}/graphql`, request, server });
    }
    await checkSameAnswers(targets);
    return targets;
  } catch (error) {
    await stopTargets(targets);
    throw error;
  }
}

async function stopTargets(targets: Target[]): Promise<void> {
  for (const target of targets) {
    target.server.child.kill('SIGTERM');
    await new Promise((resolve) => target.server.child.once('exit', resolve));
  }
}

async function measure(target: Target, connections: number, seconds: number, warmupSeconds: number, redis: Redis): Promise<Sample> {
  const run = (duration: number) => autocannon({ url: target.url, connections, duration, requests: [target.request] });
  await run(warmupSeconds);
  const before = { server: await statsOf(target.server.child), redis: await redisCpu(redis) };
  const result = await run(seconds);
  const after = { server: await statsOf(target.server.child), redis: await redisCpu(redis) };
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    serverCpu: after.server.cpu - before.server.cpu,
    redisCpu: after.redis - before.redis,
    rootResolverRuns: after.server.rootResolverRuns === null ? null : after.server.rootResolverRuns - before.server.rootResolverRuns!,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/**
 * Measures every set-up: runs × rounds × connection counts × set-ups, interleaved. Only the
 * measured set-up sends load, so Redis's CPU in its run is that set-up's (plus whatever else
 * uses that Redis at the time: on a shared machine, other work; the medians damp it).
 */
export async function benchmarkCachedHits(options: CachedHitOptions): Promise<CachedHitRow[]> {
  const redis = new Redis(process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
  await redis.connect();
  // samples[level][target]: one per round of every run, in the same order for every set-up.
  const samples = options.connections.map(() => [] as Sample[][]);
  let measured: Target[] = [];
  try {
    for (let run = 0; run < options.runs; run++) {
      const targets = await startTargets();
      measured = targets;
      try {
        for (let round = 0; round < options.rounds; round++) {
          for (const [level, connections] of options.connections.entries()) {
            for (const [index, target] of targets.entries()) {
              process.stdout.write(`cached hit · run ${run + 1} · round ${round + 1} · c${connections} · ${target.variant.name}…\n`);
              (samples[level]![index] ??= []).push(await measure(target, connections, options.seconds, options.warmupSeconds, redis));
            }
          }
        }
      } finally {
        await stopTargets(targets);
      }
    }
  } finally {
    redis.disconnect();
  }
  return options.connections.flatMap((connections, level) => {
    const floor = samples[level]![0]!;
    return measured.map((target, index): CachedHitRow => {
      const runs = samples[level]![index]!;
      const perRequest = (value: (sample: Sample) => number) => median(runs.map((sample) => value(sample) / Math.max(1, sample.requests)));
      return {
        id: target.variant.id,
        checkout: target.variant.checkout,
        name: target.variant.name,
        peer: target.variant.peer ?? false,
        redis: target.variant.redis ?? false,
        connections,
        samples: runs.length,
        bodyBytes: target.bodyBytes,
        rps: median(runs.map((sample) => sample.rps)),
        ratio: median(runs.map((sample, at) => sample.rps / floor[at]!.rps)),
        cpuPerRequest: perRequest((sample) => sample.serverCpu),
        redisCpuPerRequest: perRequest((sample) => sample.redisCpu),
        totalCpuPerRequest: perRequest((sample) => sample.serverCpu + sample.redisCpu),
        rootResolverRunsPerRequest: runs.some((sample) => sample.rootResolverRuns === null) ? null : perRequest((sample) => sample.rootResolverRuns!),
        p50: median(runs.map((sample) => sample.p50)),
        p99: median(runs.map((sample) => sample.p99)),
        non2xx: runs.reduce((sum, sample) => sum + sample.non2xx, 0),
        errors: runs.reduce((sum, sample) => sum + sample.errors, 0),
      };
    });
  });
}

/**
 * Every set-up must answer the same memories (ids and scores differ between their databases),
 * and answer a repeat from its cache: a peer's second request must not run its root resolver.
 */
async function checkSameAnswers(targets: Target[]): Promise<void> {
  let expected: string | null = null;
  for (const target of targets) {
    // The first request fills the caches.
    for (let i = 0; i < 2; i++) {
      const before = await statsOf(target.server.child);
      const response = await fetch(target.url, { method: 'POST', headers: target.request.headers as Record<string, string>, body: target.request.body as string });
      const text = await response.text();
      const after = await statsOf(target.server.child);
      target.bodyBytes = Buffer.byteLength(text);
      const body = JSON.parse(text) as { data?: { context: { memories: { edges: Array<{ node: { content: string } }> } } } };
      const contents = JSON.stringify(body.data?.context.memories.edges.map((edge) => edge.node.content));
      expected ??= contents;
      if (response.status !== 200 || contents !== expected) throw new Error(`${target.variant.name} answered differently: ${response.status} ${contents}`);
      if (i === 1 && after.rootResolverRuns !== before.rootResolverRuns) throw new Error(`${target.variant.name} resolved a repeated query again instead of answering it from its cache`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = cachedHitOptions();
  process.stdout.write(`${cachedHitReport(await benchmarkCachedHits(options), options)}\n`);
}
