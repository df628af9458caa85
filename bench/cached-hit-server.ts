/**
 * One server of the cached-hit benchmark, in a process of its own so that it has a core to
 * itself while the load generator runs in the parent. `node --import tsx bench/cached-hit-server.ts
 * <variant>` seeds a user, a context and 20 memories, warms the cache, and prints one JSON line:
 * { port, token, contextId, body }; over IPC it answers any message with its CPU usage and the
 * runs of the query's root resolver (peers only). Variants:
 *   floor (Recall's reply to a hit, its exact body and headers) · floor-data (the data alone, as
 *   before issue 9) · recall · recall-redis · recall-yoga-path · the peers of
 *   bench/cached-hit-peers.ts (stock-yoga, apollo, apollo-redis, mercurius)
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp } from '../src/app.js';
import { createCache } from '../src/cache/cache.js';
import { loadConfig } from '../src/config.js';
import { openDatabase } from '../src/db/open-database.js';
import { createHttpServer, httpServerOptions } from '../src/http/server.js';
import { isPeer, listenOn, rootResolverRuns, startPeer, type Listening } from './cached-hit-peers.js';
import { LIST_QUERY } from './cached-hit-query.js';
import { gql as send } from './gql.js';
import { seedList } from './seed-list.js';
import { BENCH_SESSION_SECRET } from './session-secret.js';

const variant = process.argv[2] ?? 'recall';
const redisUrl = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const logger = pino({ level: 'silent' });
const config = loadConfig({
  DATABASE_URL: 'memory://',
  LOG_LEVEL: 'silent',
  NODE_ENV: 'production',
  SESSION_SECRET: BENCH_SESSION_SECRET,
  // The budget is counted on every request, but set high enough never to refuse the benchmark.
  RATE_LIMIT_FREE_PER_WINDOW: '1000000000',
  ...(variant === 'recall-redis' ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `recall-bench:${randomBytes(4).toString('hex')}:` } : {}),
});
const db = await openDatabase(config, logger);
const registry = new Registry();
const cache = await createCache(config, { db, registry, logger });
const app = createApp({ config, db, cache, registry, logger });

const gql = (query: string, variables: Record<string, unknown>, token?: string) =>
  send((url, init) => app.yoga.fetch(url, init), 'http://bench/graphql', query, variables, token);

const { token, contextId } = await seedList(gql);

let listening: Listening;
let body = '';
if (variant === 'floor') {
  // Recall's own reply to a cached hit, byte for byte: its body (with extensions.cost) and its headers.
  const reply = await recallReply();
  body = reply.body;
  listening = await listenOn(
    createServer((req, res) => {
      // Read the request like every other variant must, then send the same bytes.
      req.resume();
      req.on('end', () => res.writeHead(200, reply.headers).end(body));
    }),
  );
} else if (variant === 'floor-data') {
  // The floor as it was before issue 9: the data alone, one header.
  body = JSON.stringify({ data: await gql(LIST_QUERY, { id: contextId }, token) });
  listening = await listenOn(
    createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/graphql-response+json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body));
    }),
  );
} else if (isPeer(variant)) {
  listening = await startPeer(variant, app, config, redisUrl);
} else if (variant === 'recall-yoga-path') {
  // Recall's plugins and stores, without the fast path in front of yoga.
  listening = await listenOn(createHttpServer(app.yoga, httpServerOptions(config)));
} else {
  listening = await listenOn(app.server);
}

/** What Recall's front sends for a cached hit of the benchmark's query (the second request: the first fills the cache). */
async function recallReply(): Promise<{ body: string; headers: Record<string, string> }> {
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/graphql`;
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: LIST_QUERY, variables: { id: contextId }, operationName: 'List' }),
    };
    await (await fetch(url, init)).arrayBuffer();
    const response = await fetch(url, init);
    const text = await response.text();
    if (response.status !== 200 || !text.includes('"extensions"')) throw new Error(`Recall's hit was not a 200 with extensions: ${response.status} ${text}`);
    // Hop-by-hop headers and the date are node's own; the rest is Recall's reply.
    const headers = Object.fromEntries([...response.headers].filter(([name]) => !['connection', 'keep-alive', 'date', 'transfer-encoding'].includes(name)));
    return { body: text, headers };
  } finally {
    app.server.closeAllConnections();
    await new Promise((resolve) => app.server.close(resolve));
  }
}

process.stdout.write(`${JSON.stringify({ port: listening.port, token, contextId, body })}\n`);

// The parent asks for this process's CPU time (and a peer's resolver runs) around each measured run.
process.on('message', () => process.send?.({ ...process.cpuUsage(), rootResolverRuns: isPeer(variant) ? rootResolverRuns : null }));

process.on('SIGTERM', () => {
  void (async () => {
    await listening.close();
    await app.close();
    await cache.clear().catch(() => undefined);
    await cache.close();
    await db.close();
    process.exit(0);
  })();
});
