/**
 * The heaviest operations a FREE user may run: each near MAX_OPERATION_COST (or as heavy as its
 * shape allows), sent to a Recall server in a child process on issue 9's probe data
 * (bench/cost-heavy-server.ts seeds it), timed, and weighed by the server's RSS and heap. Target:
 * every accepted operation of a FREE user finishes in under 1 s and under 100 MB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from '../src/config.js';
import { aliased, historyPage, STALL_QUERY } from './cost-operations.js';
import { createCoster } from './cost-schema.js';
import { median } from './stats.js';

const SERVER = new URL('./cost-heavy-server.ts', import.meta.url).pathname;
const RUNS = 3;
const MB = 1024 * 1024;
const config = loadConfig({ DATABASE_URL: 'memory://' });

export interface Seeded {
  token: string;
  probe: string;
  edited: string;
  metadata: string;
}

interface HeavyOperation {
  name: string;
  query: string;
  variables: Record<string, unknown>;
  /** Sent this many times at once (each a new document). */
  concurrency?: number;
}

export interface HeavyRow {
  name: string;
  nodes: number;
  points: number;
  status: string;
  bytes: number;
  /** Medians and maxima over the runs. */
  ms: { median: number; max: number };
  cpuMs: number;
  /** Growth over the RSS before the operation (after a full collection): at its peak, and what is left after another. */
  rssPeakMb: number;
  rssRetainedMb: number;
  /** Growth of the JS heap (sampled every 5 ms) over the heap before the operation, and what a full collection leaves of it. */
  heapPeakMb: number;
  heapRetainedMb: number;
  livezMaxMs: number;
}

function spawnServer(mode: 'seed' | 'serve', env: Record<string, string>): { child: ChildProcess; line: Promise<string> } {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', SERVER, mode], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
  });
  const line = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the heavy ${mode} server exited with ${code}`)));
  });
  return { child, line };
}

/** Seeds the database once (or reads BENCH_HEAVY_SEED, a file a previous seed wrote). */
export async function seedHeavy(env: Record<string, string>): Promise<Seeded> {
  const file = process.env['BENCH_HEAVY_SEED'];
  if (file) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as Seeded;
    } catch {
      // Not there yet: seed, then keep it there.
    }
  }
  const { line } = spawnServer('seed', env);
  const text = await line;
  if (file) writeFileSync(file, text);
  return JSON.parse(text) as Seeded;
}

const ask = <T>(child: ChildProcess, message: string): Promise<T> =>
  new Promise((resolve) => {
    child.once('message', (reply) => resolve(reply as T));
    child.send(message);
  });

/** Resident and peak resident memory of a process, in bytes (Linux). */
function rssOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Runs each operation RUNS times against one server on `env`'s database, a new document each time (no response-cache hit). */
export async function measureHeavy(env: Record<string, string>, seeded: Seeded, operations: HeavyOperation[]): Promise<HeavyRow[]> {
  const coster = createCoster(config);
  const rows: HeavyRow[] = [];
  for (const operation of operations) {
    // A server of its own for each operation: one that fails (or swells) leaves the others alone.
    const { child, line } = spawnServer('serve', env);
    const { port } = JSON.parse(await line) as { port: number };
    const url = `http://127.0.0.1:${port}`;
    const cost = coster.cost(operation.query, undefined, operation.variables);
    // A server that has answered a few requests (its code compiled), as one in service has.
    for (let i = 0; i < 20; i++) await send(url, seeded.token, 'query Warm { viewer { id } }', {});
    const runs: Array<Omit<HeavyRow, 'name' | 'nodes' | 'points' | 'ms'> & { ms: number }> = [];
    try {
      for (let run = 0; run < RUNS; run++) {
        process.stdout.write(`heavy · ${operation.name} · run ${run + 1}…\n`);
        const heapBefore = (await ask<{ memory: NodeJS.MemoryUsage }>(child, 'gc')).memory.heapUsed;
        const before = rssOf(child.pid!);
        // Resets VmHWM to the current RSS: the peak read after the operation is its own.
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5');
        const cpuBefore = (await ask<{ cpu: NodeJS.CpuUsage }>(child, 'usage')).cpu;
        const livez = watchLivez(url);
        const started = performance.now();
        const replies = await Promise.all(
          Array.from({ length: operation.concurrency ?? 1 }, (_, i) => send(url, seeded.token, renamed(operation.query, `R${run}x${i}`), operation.variables)),
        );
        const ms = performance.now() - started;
        const livezMaxMs = await livez.stop();
        const peak = rssOf(child.pid!).peak;
        const heap = (await ask<{ peak: { heapUsed: number } }>(child, 'peak')).peak;
        const cpuAfter = (await ask<{ cpu: NodeJS.CpuUsage }>(child, 'usage')).cpu;
        const heapAfter = (await ask<{ memory: NodeJS.MemoryUsage }>(child, 'gc')).memory.heapUsed;
        runs.push({
          status: [...new Set(replies.map((reply) => reply.status))].join(', '),
          bytes: median(replies.map((reply) => reply.bytes)),
          ms,
          cpuMs: (cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) / 1000,
          rssPeakMb: (peak - before.rss) / MB,
          rssRetainedMb: (rssOf(child.pid!).rss - before.rss) / MB,
          heapPeakMb: (heap.heapUsed - heapBefore) / MB,
          heapRetainedMb: (heapAfter - heapBefore) / MB,
          livezMaxMs,
        });
      }
    } catch (error) {
      runs.push({ status: `failed: ${String(error).slice(0, 80)}`, bytes: 0, ms: NaN, cpuMs: NaN, rssPeakMb: NaN, rssRetainedMb: NaN, heapPeakMb: NaN, heapRetainedMb: NaN, livezMaxMs: NaN });
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
    }
    const max = (pick: (run: (typeof runs)[number]) => number) => Math.max(...runs.map(pick));
    rows.push({
      name: operation.name,
      nodes: cost.nodes,
      points: cost.points,
      status: [...new Set(runs.map((run) => run.status))].join(' / '),
      bytes: median(runs.map((run) => run.bytes)),
      ms: { median: median(runs.map((run) => run.ms)), max: max((run) => run.ms) },
      cpuMs: median(runs.map((run) => run.cpuMs)),
      rssPeakMb: max((run) => run.rssPeakMb),
      rssRetainedMb: max((run) => run.rssRetainedMb),
      heapPeakMb: max((run) => run.heapPeakMb),
      heapRetainedMb: max((run) => run.heapRetainedMb),
      livezMaxMs: max((run) => run.livezMaxMs),
    });
  }
  return rows;
}

/** The same operation under another name: a new document, so neither cache answers it. */
const renamed = (query: string, suffix: string) => query.replace(/^(query|mutation) (\w+)/, `$1 $2${suffix}`);

async function send(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<{ status: string; bytes: number }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(180_000),
  });
  const text = await response.text();
  const body = JSON.parse(text) as { errors?: Array<{ extensions?: { code?: string } }> };
  const codes = [...new Set((body.errors ?? []).map((error) => error.extensions?.code ?? 'error'))];
  return { status: `${response.status}${codes.length ? ` ${codes.join(',')}` : ''}`, bytes: Buffer.byteLength(text) };
}

/** Polls /livez one request after another until stopped; the slowest answer, in ms. */
function watchLivez(url: string): { stop(): Promise<number> } {
  let stopped = false;
  let slowest = 0;
  const loop = (async () => {
    while (!stopped) {
      const started = performance.now();
      await fetch(`${url}/livez`).then((response) => response.arrayBuffer(), () => undefined);
      slowest = Math.max(slowest, performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return slowest;
    },
  };
}

/** The operations, each made as heavy as MAX_OPERATION_COST lets it be (largest n with points ≤ the limit). */
export function heavyOperations(seeded: Seeded, cursors: string[]): HeavyOperation[] {
  const coster = createCoster(config);
  const limit = config.MAX_OPERATION_COST;
  const aliases = config.MAX_QUERY_ALIASES;
  const { probe, edited, metadata } = seeded;
  const n = coster.largest((k) => historyPage(k), { id: probe }, limit, config.MAX_PAGE_SIZE);
  const pages = coster.largest((k) => pagesQuery(k), pageVariables(probe, cursors, 1), limit, aliases);
  const contents = coster.largest((k) => contentAliases(k), { id: probe }, limit, aliases - 1);
  const searches = coster.largest((k) => searches_(k), { id: probe }, limit, aliases);
  const smallSearches = coster.largest((k) => searches_(k, 1), { id: probe }, limit, aliases);
  const metadataNames = coster.largest((k) => metadataAliases(k - 1), { id: metadata }, limit, aliases);
  const introspections = coster.largest((k) => introspection(k), {}, limit, aliases);
  return [
    { name: `100 memories with history(first: ${n}) { content previousContent }, probe data`, query: historyPage(n), variables: { id: probe } },
    { name: `the same, 2 at once (what a FREE budget of 100 buys at once)`, query: historyPage(n), variables: { id: probe }, concurrency: 2 },
    { name: `100 memories with history(first: ${n}) { content previousContent }, edited memories (101 events each)`, query: historyPage(n), variables: { id: edited } },
    { name: '100 memories with history(first: 1) { content }, edited memories', query: historyPage(1, false), variables: { id: edited } },
    { name: `${pages} aliased pages of 100 memories with content (after cursors), probe data`, query: pagesQuery(pages), variables: pageVariables(probe, cursors, pages) },
    { name: `100 memories with content under ${contents + 1} names (aliases), probe data`, query: contentAliases(contents), variables: { id: probe } },
    { name: `100 memories with metadata (16 KB) under ${metadataNames} names (aliases)`, query: metadataAliases(metadataNames - 1), variables: { id: metadata } },
    { name: `${searches} aliased searchMemories(first: 100) with content, 2,000 memories`, query: searches_(searches), variables: { id: probe } },
    { name: `${smallSearches} aliased searchMemories(first: 1) with content, 2,000 memories`, query: searches_(smallSearches, 1), variables: { id: probe } },
    { name: `${introspections} aliased introspections of the schema's types, fields and their types`, query: introspection(introspections), variables: {} },
    { name: "the issue's stall query (refused)", query: STALL_QUERY, variables: {} },
  ];
}

function pagesQuery(count: number): string {
  const variables = Array.from({ length: count }, (_, i) => `$after${i}: String`).join(', ');
  const fields = Array.from({ length: count }, (_, i) => `p${i}: context(id: $id) { memories(first: 100, after: $after${i}) { edges { node { id content } } } }`);
  return `query Pages($id: ID!, ${variables}) { ${fields.join(' ')} }`;
}

/** The pages' cursors in turn (a page before the first has none), cycling when there are more aliases than pages. */
function pageVariables(id: string, cursors: string[], count: number): Record<string, unknown> {
  return Object.fromEntries([['id', id], ...Array.from({ length: count }, (_, i) => [`after${i}`, i % (cursors.length + 1) === 0 ? null : cursors[(i % (cursors.length + 1)) - 1]])]);
}

const contentAliases = (count: number) => `query Contents($id: ID!) { context(id: $id) { memories(first: 100) { edges { node { id content ${aliased(count, 'content')} } } } } }`;

const metadataAliases = (count: number) => `query Metadata($id: ID!) { context(id: $id) { memories(first: 100) { edges { node { id metadata ${aliased(count, 'metadata')} } } } } }`;

const introspection = (count: number) =>
  `query Introspection { ${aliased(count, '__schema { types { name kind description fields { name description args { name type { name } } type { name kind ofType { name kind ofType { name } } } } } }')} }`;

const WORDS = ['pasta', 'sauce', 'garden', 'travel', 'budget', 'meeting', 'music', 'health', 'family', 'books', 'code', 'recipe'];
function searches_(count: number, first = 100): string {
  // A different query text per alias, so that none is answered from another's work.
  const fields = Array.from(
    { length: count },
    (_, i) => `s${i}: searchMemories(input: { contextId: $id, query: "${WORDS[i % WORDS.length]} ${WORDS[(i * 5 + 1) % WORDS.length]} w${i}x", first: ${first} }) { edges { score node { id content } } }`,
  );
  return `query Searches($id: ID!) { ${fields.join(' ')} }`;
}



/** The end cursor of each page of 100 of the probe context's memories but the last (for the aliased pages). */
export async function pageCursors(env: Record<string, string>, seeded: Seeded): Promise<string[]> {
  const { child, line } = spawnServer('serve', env);
  try {
    const { port } = JSON.parse(await line) as { port: number };
    const cursors: string[] = [];
    for (let after: string | null = null; ; ) {
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${seeded.token}` },
        body: JSON.stringify({
          query: 'query Cursor($id: ID!, $after: String) { context(id: $id) { memories(first: 100, after: $after) { pageInfo { hasNextPage endCursor } } } }',
          variables: { id: seeded.probe, after },
        }),
      });
      const { data } = (await response.json()) as { data: { context: { memories: { pageInfo: { hasNextPage: boolean; endCursor: string } } } } };
      const { hasNextPage, endCursor } = data.context.memories.pageInfo;
      if (!hasNextPage) return cursors;
      cursors.push(endCursor);
      after = endCursor;
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
