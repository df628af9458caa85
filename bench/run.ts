/**
 * `npm run bench`: the cached-hit benchmark (bench/cached-hit.ts), the miss path
 * (bench/miss-path.ts), the write mix (bench/write-mix.ts), then the cache-aside benchmark;
 * `npm run bench -- write-mix` (or `cached-hit`, `miss-path`, `cache-aside`) runs only those and prints them without touching RESULTS.md, unless
 * BENCH_WRITE_RESULTS=1, which replaces their own sections in it and keeps the others.
 * For the cache-aside benchmark, four set-ups run side by side in one process,
 * on the same data in the same PostgreSQL, so that their ratios mean something on a shared,
 * noisy machine:
 *   no cache · DataLoader only · cache-aside (Redis only) · cache-aside (L1 + Redis)
 * Workloads: a hot single-memory read; a 20-memory list with context and relevance; a Zipf
 * mix of 95% reads and 5% writes over 10,000 memories. Results go to bench/RESULTS.md.
 *
 * BENCH_DATABASE_URL and BENCH_REDIS_URL choose the servers (defaults: the local ones);
 * BENCH_SECONDS the measured seconds per run (default 5; the cached-hit benchmark's own default
 * is 3, and its other settings are in bench/cached-hit.ts). Loopback only.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp, type App } from '../src/app.js';
import { createCache, type Cache } from '../src/cache/cache.js';
import { loadConfig, type Config } from '../src/config.js';
import type { Database } from '../src/db/database.js';
import { openDatabase } from '../src/db/open-database.js';
import { benchmarkCachedHits, cachedHitOptions } from './cached-hit.js';
import { cachedHitReport } from './cached-hit-report.js';
import { benchmarkMissPath, missPathOptions, missPathReport } from './miss-path.js';
import { benchmarkWriteMix, writeMixReport } from './write-mix.js';
import { gql as send } from './gql.js';
import { createNullCache } from './null-cache.js';
import { createZipf } from './zipf.js';
import { issueSections, RESULTS, writeSection } from './results-file.js';
import { BENCH_SESSION_SECRET } from './session-secret.js';

const DATABASE_URL = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const WARMUP_SECONDS = 1;
const CONNECTIONS = 16;
const ZIPF_MEMORIES = 10_000;

const logger = pino({ level: 'silent' });
const run = randomBytes(4).toString('hex');
const schema = `recall_bench_${run}`;
let statements = 0;

interface Mode {
  name: string;
  env: Record<string, string>;
  cache(config: Config, registry: Registry, db: Database): Promise<Cache>;
}

const MODES: Mode[] = [
  {
    name: 'no cache',
    env: { DATALOADER_MAX_BATCH_SIZE: '1' },
    cache: async (config) => createNullCache(config.REDIS_KEY_PREFIX),
  },
  { name: 'DataLoader only', env: {}, cache: async (config) => createNullCache(config.REDIS_KEY_PREFIX) },
  {
    name: 'cache-aside (Redis only)',
    env: { REDIS_URL, CACHE_L1_MAX_ENTRIES: '0' },
    cache: (config, registry, db) => createCache(config, { db, registry, logger }),
  },
  {
    name: 'cache-aside (L1 + Redis)',
    env: { REDIS_URL },
    cache: (config, registry, db) => createCache(config, { db, registry, logger }),
  },
];

interface Running {
  mode: Mode;
  app: App;
  cache: Cache;
  url: string;
}

async function start(mode: Mode, db: Database, index: number): Promise<Running> {
  const config = loadConfig({
    DATABASE_URL,
    DATABASE_SCHEMA: schema,
    LOG_LEVEL: 'silent',
    SESSION_SECRET: BENCH_SESSION_SECRET,
    REDIS_KEY_PREFIX: `recall-bench:${run}:${index}:`,
    MAX_QUERY_ALIASES: '100',
    MAX_QUERY_TOKENS: '5000',
    // This benchmark measures the layers under the response cache, which would answer repeats.
    RESPONSE_CACHE_ENABLED: 'false',
    // Counted, as always, but never refused (the seed adds 10,020 memories in 101 calls).
    RATE_LIMIT_FREE_PER_WINDOW: '1000000000',
    RATE_LIMIT_ADD_MEMORIES: '1000000/1m',
    ...mode.env,
  });
  const registry = new Registry();
  const cache = await mode.cache(config, registry, db);
  const app = createApp({ config, db, cache, registry, logger });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  return { mode, app, cache, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql` };
}

const gql = (url: string, query: string, variables: Record<string, unknown> = {}, token?: string) =>
  send(fetch, url, query, variables, token);

async function seed(url: string) {
  const signUp = await gql(url, 'mutation { signUp(input: { email: "bench@example.com", password: "bench password" }) { token } }');
  const token: string = signUp.signUp.token;
  const context = async (name: string, description: string) =>
    (await gql(url, 'mutation ($n: String!, $d: String) { createContext(input: { name: $n, description: $d }) { context { id } } }', { n: name, d: description }, token))
      .createContext.context.id as string;
  const add = async (contextId: string, items: Array<{ content: string }>) =>
    (await gql(url, 'mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } } }', { input: { contextId, items } }, token))
      .addMemories.memories.map((memory: { id: string }) => memory.id) as string[];

  const words = ['pasta', 'garden', 'travel', 'budget', 'meeting', 'music', 'health', 'family', 'books', 'code'];
  const note = (i: number) => `note ${i} about ${words[i % words.length]} and ${words[(i * 7) % words.length]}`;
  const listContext = await context('Kitchen', 'pasta recipes and sauces');
  const listIds = await add(listContext, Array.from({ length: 20 }, (_, i) => ({ content: note(i) })));
  const zipfContext = await context('Everything', 'a large context');
  const zipfIds: string[] = [];
  for (let batch = 0; batch < ZIPF_MEMORIES / 100; batch++) {
    zipfIds.push(...(await add(zipfContext, Array.from({ length: 100 }, (_, i) => ({ content: note(batch * 100 + i) })))));
  }
  return { token, listContext, hotId: listIds[0]!, zipfIds };
}

/** What a Zipf request remembers between being sent and being answered. */
interface ZipfRequest {
  id: string;
  write: boolean;
  /** The highest version of the memory known to be committed when the request was sent. */
  floor: number;
}

interface Workload {
  name: string;
  /** Concurrent connections (default CONNECTIONS). */
  connections?: number;
  requests(token: string, stale: { count: number }): autocannon.Request[];
  /** Before measuring, read what the workload will read once, so that caches start warm. */
  warm?(running: Running, token: string): Promise<void>;
}

function workloads(data: Awaited<ReturnType<typeof seed>>): Workload[] {
  const body = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });
  const headers = (token: string) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` });
  const zipf = createZipf(data.zipfIds.length, 1);
  // Highest version each memory is known to have reached once a write has returned.
  const committed = new Map<string, number>();
  const hot = (token: string): autocannon.Request[] => [
    {
      method: 'POST',
      headers: headers(token),
      body: body('query ($id: ID!) { memory(id: $id) { id content version context { name } } }', { id: data.hotId }),
    },
  ];

  return [
    // With 16 connections on one key, concurrent misses of Redis share one MGET (the in-flight
    // map), which L1 hits, answered at once, never do: the 1-connection row shows per-lookup cost.
    { name: 'hot single-memory read', requests: hot },
    { name: 'hot single-memory read, 1 connection', connections: 1, requests: hot },
    {
      name: '20-memory list with context and relevance',
      requests: (token) => [
        {
          method: 'POST',
          headers: headers(token),
          body: body(
            'query ($id: ID!) { context(id: $id) { memories(first: 20) { edges { node { id content context { name } relevance(contextId: $id) { score } } } } } }',
            { id: data.listContext },
          ),
        },
      ],
    },
    {
      name: 'Zipf mix, 95% reads / 5% writes, 10,000 memories',
      async warm(running, token) {
        for (let start = 0; start < data.zipfIds.length; start += 100) {
          const ids = data.zipfIds.slice(start, start + 100);
          await gql(running.url, `{ ${ids.map((id, i) => `m${i}: memory(id: "${id}") { id }`).join(' ')} }`, {}, token);
        }
      },
      requests: (token, stale) => [
        {
          method: 'POST',
          headers: headers(token),
          setupRequest(request, context) {
            const id = data.zipfIds[zipf()]!;
            const write = Math.random() < 0.05;
            Object.assign(context, { id, write, floor: committed.get(id) ?? 1 } satisfies ZipfRequest);
            request.body = write
              ? body('mutation ($id: ID!, $i: Float!) { updateMemory(input: { id: $id, importance: $i }) { memory { version } } }', {
                  id,
                  i: Math.round(Math.random() * 100) / 100,
                })
              : body('query ($id: ID!) { memory(id: $id) { id version } }', { id });
            return request;
          },
          onResponse(status, responseBody, context) {
            if (status !== 200) return;
            const data = (JSON.parse(responseBody) as { data?: any }).data;
            const { id, write, floor } = context as ZipfRequest;
            if (write) {
              const version: number | undefined = data?.updateMemory?.memory?.version;
              if (version !== undefined) committed.set(id, Math.max(committed.get(id) ?? 1, version));
            } else if ((data?.memory?.version ?? Infinity) < floor) {
              // This read began after a write of a newer version had returned.
              stale.count++;
            }
          },
        },
      ],
    },
  ];
}

async function counterValue(
  registry: Registry,
  name: string,
  filter: (labels: Partial<Record<string, string | number>>) => boolean = () => true,
) {
  const metric = await registry.getSingleMetric(name)?.get();
  return (metric?.values ?? []).filter((value) => filter(value.labels)).reduce((sum, value) => sum + value.value, 0);
}

interface Row {
  mode: string;
  rps: number;
  p50: number;
  p99: number;
  hitRatio: number | null;
  memoryHitRatio: number | null;
  sqlPerRequest: number;
  redisPerRequest: number;
  failed: number;
  stale: number;
}

async function measure(running: Running, workload: Workload, token: string): Promise<Row> {
  const stale = { count: 0 };
  const fire = (seconds: number) =>
    autocannon({ url: running.url, connections: workload.connections ?? CONNECTIONS, duration: seconds, requests: workload.requests(token, stale) });
  await workload.warm?.(running, token);
  await fire(WARMUP_SECONDS);
  stale.count = 0;

  const registry = running.app.registry;
  const lookups = async (kinds: string[] | null, results: string[]) =>
    counterValue(registry, 'recall_cache_lookups_total', (labels) =>
      (kinds === null || kinds.includes(String(labels['kind']))) && results.includes(String(labels['result'])),
    );
  const hits = ['hit', 'stale', 'negative'];
  const before = {
    statements,
    redis: await counterValue(registry, 'recall_cache_redis_round_trips_total'),
    hits: await lookups(null, hits),
    misses: await lookups(null, ['miss']),
    memoryHits: await lookups(['memory'], hits),
    memoryMisses: await lookups(['memory'], ['miss']),
  };
  const result = await fire(SECONDS);
  const total = result.requests.total;
  const hitsNow = (await lookups(null, hits)) - before.hits;
  const missesNow = (await lookups(null, ['miss'])) - before.misses;
  const memoryHits = (await lookups(['memory'], hits)) - before.memoryHits;
  const memoryMisses = (await lookups(['memory'], ['miss'])) - before.memoryMisses;
  const cached = running.cache.mode === 'redis';
  return {
    mode: running.mode.name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    hitRatio: cached && hitsNow + missesNow > 0 ? hitsNow / (hitsNow + missesNow) : null,
    memoryHitRatio: cached && memoryHits + memoryMisses > 0 ? memoryHits / (memoryHits + memoryMisses) : null,
    sqlPerRequest: (statements - before.statements) / total,
    redisPerRequest: ((await counterValue(registry, 'recall_cache_redis_round_trips_total')) - before.redis) / total,
    failed: result.non2xx + result.errors,
    stale: stale.count,
  };
}

const pct = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(1)}%`);
const num = (value: number, digits = 2) => value.toFixed(digits);

function table(rows: Row[], withStale: boolean): string {
  const header = `| set-up | req/s | p50 ms | p99 ms | hit ratio (all) | hit ratio (memory) | SQL / req | Redis round trips / req | failed |${withStale ? ' stale reads |' : ''}`;
  const rule = `|---|---:|---:|---:|---:|---:|---:|---:|---:|${withStale ? '---:|' : ''}`;
  const lines = rows.map(
    (row) =>
      `| ${row.mode} | ${num(row.rps, 0)} | ${row.p50} | ${row.p99} | ${pct(row.hitRatio)} | ${pct(row.memoryHitRatio)} | ${num(row.sqlPerRequest)} | ${num(row.redisPerRequest)} | ${row.failed} |${withStale ? ` ${row.stale} |` : ''}`,
  );
  return [header, rule, ...lines].join('\n');
}

const SECTIONS = ['cached-hit', 'miss-path', 'write-mix', 'cache-aside'] as const;
const chosen = process.argv.slice(2).filter((arg): arg is (typeof SECTIONS)[number] => (SECTIONS as readonly string[]).includes(arg));
const runs = (section: (typeof SECTIONS)[number]) => chosen.length === 0 || chosen.includes(section);

async function cacheAside(db: Database, running: Running[]): Promise<string> {
  for (const [index, mode] of MODES.entries()) running.push(await start(mode, db, index));
  process.stdout.write('seeding 10,020 memories…\n');
  const data = await seed(running[1]!.url);
  const sections: string[] = [];
  const summary: string[] = [];
  for (const workload of workloads(data)) {
    const rows: Row[] = [];
    for (const target of running) {
      process.stdout.write(`${workload.name} · ${target.mode.name}…\n`);
      rows.push(await measure(target, workload, data.token));
    }
    const zipf = workload.name.startsWith('Zipf');
    sections.push(`#### ${workload.name}\n\n${table(rows, zipf)}`);
    if (!zipf) continue;
    const none = rows[0]!;
    for (const row of rows.slice(2)) {
      summary.push(
        `- ${row.mode}: hit ratio ${pct(row.hitRatio)} (memory reads ${pct(row.memoryHitRatio)}; target ≥ 90%), ` +
          `SQL per request cut by ${pct(1 - row.sqlPerRequest / none.sqlPerRequest)} against no cache (target ≥ 90%), ` +
          `${row.stale} stale reads (target 0), ${num(row.rps / none.rps, 1)}× the requests per second of no cache.`,
      );
    }
  }
  return `## Cache-aside

Each set-up is an app instance in the same process as the load generator (autocannon,
${CONNECTIONS} connections, ${SECONDS} s measured after a ${WARMUP_SECONDS} s warm-up), against the same data, with the
response cache off (it would answer the repeats). SQL and Redis counts are per HTTP request,
session lookup included. "No cache" also turns off DataLoader batching (one statement per
entity). Every lookup reads the cache first; only misses of one key share a load, so with ${CONNECTIONS}
connections on one key each lookup that goes to Redis is an MGET of its own. The 1-connection
row shows the cost of a single lookup.

### Zipf mix against the targets

${summary.join('\n')}

${sections.join('\n\n')}
`;
}

async function main() {
  const baseConfig = loadConfig({ DATABASE_URL, DATABASE_SCHEMA: schema, LOG_LEVEL: 'silent' });
  const db = await openDatabase(baseConfig, logger, () => {
    statements++;
  });
  const running: Running[] = [];
  try {
    const parts: string[] = [];
    if (runs('cached-hit')) {
      const options = cachedHitOptions();
      parts.push(cachedHitReport(await benchmarkCachedHits(options), options));
    }
    if (runs('miss-path')) {
      const options = missPathOptions();
      parts.push(missPathReport(await benchmarkMissPath(options), options));
    }
    if (runs('write-mix')) {
      const options = { db, databaseUrl: DATABASE_URL, schema, redisUrl: REDIS_URL, seconds: SECONDS * 2, warmupSeconds: WARMUP_SECONDS, writeShares: [0.01, 0.05, 0.2] };
      parts.push(writeMixReport(await benchmarkWriteMix(options), options));
    }
    if (runs('cache-aside')) parts.push(await cacheAside(db, running));
    const report = `# Benchmark results

Produced by \`npm run bench\` (bench/run.ts) on ${new Date().toISOString().slice(0, 10)}: Node ${process.version},
${os.cpus().length} cores, PostgreSQL and Redis on loopback. The machine is shared and noisy: compare the
rows of a table with each other, measured side by side in one run, not with other machines or
other runs.

${parts.join('\n')}`;
    // The Issue 9 section is bench/cost.ts's: kept as it stands.
    if (chosen.length === 0) await writeFile(RESULTS, `${report.trimEnd()}\n${(await issueSections()) ? `\n${await issueSections()}` : ''}`);
    // A part run alone replaces its own section only when asked (A/B runs leave the file be).
    else if (process.env['BENCH_WRITE_RESULTS'] === '1') {
      for (const part of parts) await writeSection(part.slice(0, part.indexOf('\n')), part.slice(part.indexOf('\n') + 1));
    }
    process.stdout.write(`\n${report}`);
  } finally {
    for (const target of running) {
      await new Promise((resolve) => target.app.server.close(resolve));
      await target.app.close();
      await target.cache.clear().catch(() => undefined);
      await target.cache.close();
    }
    await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.close();
  }
}

await main();
