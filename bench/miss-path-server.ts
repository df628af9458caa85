/**
 * One server of the miss-path benchmark, in a process of its own. `node --import tsx
 * bench/miss-path-server.ts <variant> [checkout]` runs the app of `checkout` (default: this one),
 * so that a baseline checkout is measured with the same set-up, without a script of its own.
 * It seeds a user, a context and 20 memories in a fresh PostgreSQL schema, warms every entity
 * with two reads of the benchmark's query, and prints one JSON line: { port, token, contextId }.
 * Over IPC it answers any message with its CPU usage and the SQL statements it has sent.
 * The response cache is off: every request runs the query (the miss path). Variants: recall (the
 * in-process cache) · recall-redis (L1 + Redis).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { LIST_QUERY } from './cached-hit-query.js';
import { gql as send } from './gql.js';
import { seedList } from './seed-list.js';
import { BENCH_SESSION_SECRET } from './session-secret.js';

const variant = process.argv[2] ?? 'recall';
const checkout = path.resolve(process.argv[3] ?? new URL('..', import.meta.url).pathname);
// The checkout's own modules and dependencies, so that a baseline runs as it is.
const fromCheckout = <T>(file: string): Promise<T> => import(path.join(checkout, file)) as Promise<T>;
const requireInCheckout = createRequire(path.join(checkout, 'package.json'));
const { pino } = requireInCheckout('pino') as typeof import('pino');
const { Registry } = requireInCheckout('prom-client') as typeof import('prom-client');
const { createApp } = await fromCheckout<typeof import('../src/app.js')>('src/app.ts');
const { createCache } = await fromCheckout<typeof import('../src/cache/cache.js')>('src/cache/cache.ts');
const { loadConfig } = await fromCheckout<typeof import('../src/config.js')>('src/config.ts');
const { openDatabase } = await fromCheckout<typeof import('../src/db/open-database.js')>('src/db/open-database.ts');

const run = randomBytes(4).toString('hex');
const schema = `recall_bench_miss_${run}`;
const logger = pino({ level: 'silent' });
const config = loadConfig({
  DATABASE_URL: process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test',
  DATABASE_SCHEMA: schema,
  LOG_LEVEL: 'silent',
  NODE_ENV: 'production',
  SESSION_SECRET: BENCH_SESSION_SECRET,
  // The miss path: whole responses would answer every repeat.
  RESPONSE_CACHE_ENABLED: 'false',
  // The budget is counted on every request, but set high enough never to refuse the benchmark.
  RATE_LIMIT_FREE_PER_WINDOW: '1000000000',
  ...(variant === 'recall-redis'
    ? { REDIS_URL: process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: `recall-bench:${run}:` }
    : {}),
});
let statements = 0;
const db = await openDatabase(config, logger, () => {
  statements++;
});
const registry = new Registry();
const cache = await createCache(config, { db, registry, logger });
const app = createApp({ config, db, cache, registry, logger });

const gql = (query: string, variables: Record<string, unknown>, token?: string) =>
  send((url, init) => app.yoga.fetch(url, init), 'http://bench/graphql', query, variables, token);

const { token, contextId } = await seedList(gql);
// Every entity (and, where they are cached, the page and the scores) warm before measuring.
for (let i = 0; i < 2; i++) await gql(LIST_QUERY, { id: contextId }, token);

await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${JSON.stringify({ port: (app.server.address() as AddressInfo).port, token, contextId })}\n`);

process.on('message', () => process.send?.({ ...process.cpuUsage(), statements }));

process.on('SIGTERM', () => {
  void (async () => {
    app.server.closeAllConnections();
    await new Promise((resolve) => app.server.close(resolve));
    await app.close();
    await cache.clear().catch(() => undefined);
    await cache.close();
    await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await db.close();
    process.exit(0);
  })();
});
