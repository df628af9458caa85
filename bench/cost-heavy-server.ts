/**
 * The server of the heavy-operation benchmark (bench/cost-heavy.ts), in a process of its own so
 * that its RSS is its own. `node --import tsx bench/cost-heavy-server.ts seed|serve`, with
 * BENCH_DATABASE_URL (a PostgreSQL URL, with BENCH_DATABASE_SCHEMA; or unset: embedded PGlite in
 * BENCH_DATA_DIR).
 *   seed: a FREE user with three contexts: "probe" (2,000 memories of 8,000 characters, as in
 *     issue 9's probe), "edited" (100 such memories, each updated 100 times, so that each has a
 *     history of 101 events of 8,000 characters before and after) and "metadata" (100 such
 *     memories with 16 KB of metadata each, the most a memory may carry); prints one JSON line
 *     { token, probe, edited, metadata }.
 *   serve: Recall with the default settings but for the budget (never refusing the benchmark's
 *     repeats; MAX_OPERATION_COST and every other limit stay as they are); prints { port }. Over
 *     IPC it answers 'gc' (after a full collection), 'peak' (the largest heap seen since the last
 *     'gc', sampled every 5 ms) and 'usage' (CPU time and memory) with what it measured.
 */
import { pino } from 'pino';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/open-database.js';
import { gql as send } from './gql.js';
import { BENCH_SESSION_SECRET } from './session-secret.js';

const mode = process.argv[2];
const logger = pino({ level: 'silent' });
const databaseEnv = process.env['BENCH_DATABASE_URL']
  ? { DATABASE_URL: process.env['BENCH_DATABASE_URL'], DATABASE_SCHEMA: process.env['BENCH_DATABASE_SCHEMA'] ?? 'public' }
  : { DATA_DIR: process.env['BENCH_DATA_DIR'] ?? './data' };

/** 8,000 characters of words, different for every (memory, version), with words a search finds. */
export function content(memory: number, version: number): string {
  const words = ['pasta', 'sauce', 'garden', 'travel', 'budget', 'meeting', 'music', 'health', 'family', 'books', 'code', 'recipe'];
  let seed = (memory * 7919 + version * 104729 + 1) >>> 0;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  const parts = [`memory ${memory} version ${version}:`];
  let length = parts[0]!.length;
  while (length < 8_000) {
    const r = next();
    // Mostly made-up words (many distinct lexemes), some common ones.
    const word = r % 4 === 0 ? words[r % words.length]! : `w${(r >>> 8) % 5000}x${String.fromCharCode(97 + ((r >>> 4) % 26))}`;
    parts.push(word);
    length += word.length + 1;
  }
  return parts.join(' ').slice(0, 8_000).trimEnd();
}

/** The most metadata a memory may carry: 16 KB of JSON. */
function metadata(memory: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; JSON.stringify(fields).length < 16_384 - 200; i++) fields[`k${i}`] = `${memory}-${i}-`.padEnd(120, 'm');
  return fields;
}

async function seed(): Promise<void> {
  const config = loadConfig({
    ...databaseEnv,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production',
    SESSION_SECRET: BENCH_SESSION_SECRET,
    RATE_LIMIT_FREE_PER_WINDOW: '1000000000',
    RATE_LIMIT_ADD_MEMORIES: '100000/1m',
    RESPONSE_CACHE_ENABLED: 'false',
  });
  const db = await openDatabase(config, logger);
  const app = createApp({ config, db, logger });
  const gql = (query: string, variables: Record<string, unknown>, token?: string) =>
    send((url, init) => app.yoga.fetch(url, init), 'http://bench/graphql', query, variables, token);
  const token: string = (await gql('mutation { signUp(input: { email: "heavy@example.com", password: "heavy password" }) { token } }', {})).signUp.token;
  const context = async (name: string) =>
    (await gql('mutation ($name: String!) { createContext(input: { name: $name, description: "pasta sauce garden" }) { context { id } } }', { name }, token)).createContext
      .context.id as string;
  const add = async (contextId: string, items: Array<Record<string, unknown>>): Promise<string[]> =>
    (await gql('mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } } }', { input: { contextId, items } }, token)).addMemories.memories.map(
      (memory: { id: string }) => memory.id,
    );
  const started = performance.now();
  const progress = (what: string) => process.stderr.write(`heavy · seed · ${what} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);

  const probe = await context('probe');
  for (let batch = 0; batch < 20; batch++) await add(probe, Array.from({ length: 100 }, (_, i) => ({ content: content(batch * 100 + i, 0) })));
  progress('probe: 2,000 memories');
  const meta = await context('metadata');
  for (let batch = 0; batch < 5; batch++) {
    await add(meta, Array.from({ length: 20 }, (_, i) => ({ content: content(10_000 + batch * 20 + i, 0), metadata: metadata(batch * 20 + i) })));
  }
  progress('metadata: 100 memories');
  const edited = await context('edited');
  const ids = await add(edited, Array.from({ length: 100 }, (_, i) => ({ content: content(20_000 + i, 0) })));
  for (let version = 1; version <= 100; version++) {
    // A few at a time: PostgreSQL takes them in parallel, PGlite one after another.
    for (let at = 0; at < ids.length; at += 10) {
      await Promise.all(
        ids.slice(at, at + 10).map((id, i) =>
          gql('mutation ($input: UpdateMemoryInput!) { updateMemory(input: $input) { errors { message } } }', { input: { id, content: content(20_000 + at + i, version) } }, token),
        ),
      );
    }
    if (version % 20 === 0) progress(`edited: ${version} updates of each of 100 memories`);
  }
  await app.close();
  await db.close();
  process.stdout.write(`${JSON.stringify({ token, probe, edited, metadata: meta })}\n`);
}

async function serve(): Promise<void> {
  const config = loadConfig({
    ...databaseEnv,
    LOG_LEVEL: 'silent',
    NODE_ENV: 'production',
    SESSION_SECRET: BENCH_SESSION_SECRET,
    // Repeats must not be refused by the budget or the search limit; what one operation may cost is not changed.
    RATE_LIMIT_FREE_PER_WINDOW: '1000000000',
    RATE_LIMIT_SEARCH_MEMORIES: '100000/1m',
  });
  const db = await openDatabase(config, logger);
  const app = createApp({ config, db, logger });
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));

  let peak = { heapUsed: 0 };
  setInterval(() => {
    peak = { heapUsed: Math.max(peak.heapUsed, process.memoryUsage().heapUsed) };
  }, 5).unref();
  process.on('message', (message: string) => {
    if (message === 'gc') {
      globalThis.gc?.();
      peak = { heapUsed: 0 };
      process.send?.({ memory: process.memoryUsage() });
    } else if (message === 'peak') {
      process.send?.({ peak });
    } else {
      process.send?.({ cpu: process.cpuUsage(), memory: process.memoryUsage() });
    }
  });
  process.on('SIGTERM', () => {
    void (async () => {
      app.server.closeAllConnections();
      app.server.close();
      await app.close();
      await db.close();
      process.exit(0);
    })();
  });
  process.stdout.write(`${JSON.stringify({ port: (app.server.address() as AddressInfo).port })}\n`);
}

if (mode === 'seed') await seed();
else if (mode === 'serve') await serve();
else throw new Error(`unknown mode ${mode}: seed or serve`);
