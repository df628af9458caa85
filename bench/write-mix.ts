/**
 * The write mix: agents that read the contexts they write to. 20 contexts of 30 memories, 8
 * concurrent clients, contexts picked by Zipf; each operation either reads a context's first 20
 * memories or, at the write share, adds a memory to it. Two Recall instances share one
 * PostgreSQL and one Redis, and the clients send their operations to them in turn, over HTTP,
 * as a round-robin load balancer would.
 *
 * It reports the response-cache hit ratio next to its ideal (one miss per write: the first read
 * of a context after each write), the stale reads (a list without a memory whose addition had
 * been acknowledged before the read began), errors and operations per second.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp, type App } from '../src/app.js';
import { createCache, type Cache } from '../src/cache/cache.js';
import { loadConfig } from '../src/config.js';
import type { Database } from '../src/db/database.js';
import { gql } from './gql.js';
import { createZipf } from './zipf.js';
import { BENCH_SESSION_SECRET } from './session-secret.js';

const CONTEXTS = 20;
const MEMORIES = 30;
const CLIENTS = 8;
const LIST = 'query ($id: ID!) { context(id: $id) { memories(first: 20) { edges { node { id content } } } } }';
const ADD = 'mutation ($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }';

export interface WriteMixOptions {
  db: Database;
  databaseUrl: string;
  schema: string;
  redisUrl: string;
  seconds: number;
  warmupSeconds: number;
  /** The write shares to measure, e.g. [0.01, 0.05, 0.2]. */
  writeShares: number[];
}

export interface WriteMixRow {
  writeShare: number;
  operations: number;
  reads: number;
  writes: number;
  hitRatio: number;
  /** The best possible: every read a hit but the first read of a context after each write. */
  idealHitRatio: number;
  stale: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
}

interface Instance {
  app: App;
  cache: Cache;
  url: string;
}

async function startInstance(options: WriteMixOptions, prefix: string): Promise<Instance> {
  const config = loadConfig({
    DATABASE_URL: options.databaseUrl,
    DATABASE_SCHEMA: options.schema,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production',
    SESSION_SECRET: BENCH_SESSION_SECRET,
    // Counted, as always, but never refused (the write share adds memories at hundreds a second).
    RATE_LIMIT_FREE_PER_WINDOW: '1000000000',
    RATE_LIMIT_ADD_MEMORIES: '1000000/1m',
  });
  const logger = pino({ level: 'silent' });
  const registry = new Registry();
  const cache = await createCache(config, { db: options.db, registry, logger });
  const app = createApp({ config, db: options.db, cache, registry, logger });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  return { app, cache, url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql` };
}

/** Responses answered from the cache (the cached-hit front answers every hit over HTTP). */
async function hits(instances: Instance[]): Promise<number> {
  let total = 0;
  for (const { app } of instances) {
    const metric = await app.registry.getSingleMetric('recall_response_cache_fast_path_hits_total')!.get();
    total += metric.values.reduce((sum, value) => sum + value.value, 0);
  }
  return total;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

async function run(instances: Instance[], token: string, contexts: string[], writeShare: number, seconds: number) {
  const zipf = createZipf(contexts.length, 1);
  // Per context, the newest memory whose addition has been acknowledged: ids grow with time.
  const newest = new Map<string, string>();
  const row = { operations: 0, reads: 0, writes: 0, stale: 0, errors: 0 };
  const latencies: number[] = [];
  let turn = 0;
  const deadline = performance.now() + seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const id = contexts[zipf()]!;
      const { url } = instances[turn++ % instances.length]!;
      const write = Math.random() < writeShare;
      const floor = newest.get(id);
      const started = performance.now();
      try {
        if (write) {
          const data = await gql(fetch, url, ADD, { id, content: `note ${randomBytes(4).toString('hex')}` }, token);
          const added: string = data.addMemories.memories[0].id;
          if (!newest.has(id) || added > newest.get(id)!) newest.set(id, added);
          row.writes++;
        } else {
          const data = await gql(fetch, url, LIST, { id }, token);
          const first: string | undefined = data.context.memories.edges[0]?.node.id;
          if (floor !== undefined && (first === undefined || first < floor)) row.stale++;
          row.reads++;
        }
        row.operations++;
        latencies.push(performance.now() - started);
      } catch {
        row.errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  latencies.sort((a, b) => a - b);
  return { ...row, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

export async function benchmarkWriteMix(options: WriteMixOptions): Promise<WriteMixRow[]> {
  const prefix = `recall-bench:${randomBytes(4).toString('hex')}:mix:`;
  const instances = [await startInstance(options, prefix), await startInstance(options, prefix)];
  try {
    const token: string = (await gql(fetch, instances[0]!.url, 'mutation { signUp(input: { email: "mix@example.com", password: "bench password" }) { token } }')).signUp.token;
    const contexts: string[] = [];
    for (let i = 0; i < CONTEXTS; i++) {
      const id: string = (await gql(fetch, instances[0]!.url, 'mutation ($n: String!) { createContext(input: { name: $n }) { context { id } } }', { n: `agent ${i}` }, token))
        .createContext.context.id;
      await gql(
        fetch,
        instances[0]!.url,
        'mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } } }',
        { input: { contextId: id, items: Array.from({ length: MEMORIES }, (_, m) => ({ content: `memory ${m} of agent ${i}` })) } },
        token,
      );
      contexts.push(id);
    }
    const rows: WriteMixRow[] = [];
    for (const writeShare of options.writeShares) {
      process.stdout.write(`write mix · ${writeShare * 100}% writes…\n`);
      await run(instances, token, contexts, writeShare, options.warmupSeconds);
      const before = await hits(instances);
      const measured = await run(instances, token, contexts, writeShare, options.seconds);
      const hit = (await hits(instances)) - before;
      rows.push({
        writeShare,
        ...measured,
        hitRatio: measured.reads > 0 ? hit / measured.reads : 0,
        idealHitRatio: measured.reads > 0 ? Math.max(0, measured.reads - measured.writes) / measured.reads : 0,
        perSecond: measured.operations / options.seconds,
      });
    }
    return rows;
  } finally {
    for (const { app, cache } of instances) {
      app.server.closeAllConnections();
      await new Promise((resolve) => app.server.close(resolve));
      await app.close();
      await cache.clear().catch(() => undefined);
      await cache.close();
    }
  }
}

const pct = (value: number) => `${(value * 100).toFixed(1)}%`;

export function writeMixReport(rows: WriteMixRow[], options: Pick<WriteMixOptions, 'seconds' | 'warmupSeconds'>): string {
  const at5 = rows.find((row) => row.writeShare === 0.05);
  const lines = rows.map(
    (row) =>
      `| ${pct(row.writeShare)} | ${row.reads} | ${row.writes} | ${pct(row.hitRatio)} | ${pct(row.idealHitRatio)} | ${(row.hitRatio / (row.idealHitRatio || 1)).toFixed(2)} | ${row.stale} | ${row.errors} | ${row.perSecond.toFixed(0)} | ${row.p50.toFixed(1)} | ${row.p99.toFixed(1)} |`,
  );
  return `## Write mix: two instances, round-robin

${CONTEXTS} contexts of ${MEMORIES} memories; ${CLIENTS} concurrent clients, contexts picked by Zipf (s = 1); each
operation reads a context's first 20 memories or, at the write share, adds a memory to it. Two
instances share PostgreSQL and Redis (L1s on, the defaults) and are sent operations in turn over
HTTP; ${options.seconds} s measured after ${options.warmupSeconds} s at the same share. The hit ratio counts reads answered
from the response cache; its ideal misses only the first read of a context after each write. A
stale read is a list without a memory whose addition had been acknowledged before the read began.
Targets: a hit ratio of at least 0.85 at 5% writes, 0 stale reads, 0 errors${at5 ? `; measured at 5%: **${at5.hitRatio.toFixed(2)}** (ideal ${at5.idealHitRatio.toFixed(2)}), ${at5.stale} stale, ${at5.errors} errors` : ''}.

| writes | reads | writes done | hit ratio | ideal | ÷ ideal | stale reads | errors | ops/s | p50 ms | p99 ms |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${lines.join('\n')}
`;
}
