/**
 * `npm run bench:auth`: what authenticating a request costs on a warm cache, per kind of
 * credential, next to the same lookup made straight against PostgreSQL: µs and SQL statements
 * per authentication. It times the admission's authentication step itself (`authenticate`,
 * through every strategy, at the position a request's first lookup uses), not the HTTP request
 * around it. Writes "### Cost of authenticating a request" into the "Issue 11" section of
 * bench/RESULTS.md.
 *
 * A kind of credential is one entry of CREDENTIALS: how to get a token, and the query its cache
 * miss runs. BENCH_DATABASE_URL and BENCH_REDIS_URL choose the servers (defaults: the local
 * ones, a fresh schema dropped after); BENCH_SECONDS the measured seconds per row (default 3).
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp, type App } from '../src/app.js';
import { hashToken } from '../src/auth/tokens.js';
import { createCache } from '../src/cache/cache.js';
import { createSealer } from '../src/cache/sealer.js';
import { loadConfig } from '../src/config.js';
import type { Database } from '../src/db/database.js';
import { openDatabase } from '../src/db/open-database.js';
import { findApiKeysBySecretHashes } from '../src/db/repositories/api-keys.js';
import { findSessionsByTokenHashes } from '../src/db/repositories/sessions.js';
import { stringifyWithDates } from '../src/json-dates.js';
import { ISSUE_11, writeSubsections } from './results-file.js';
import { median } from './stats.js';

const DATABASE_URL = process.env['BENCH_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const ROUNDS = 5;
const SECRET = randomBytes(32).toString('base64');
const logger = pino({ level: 'silent' });
const run = randomBytes(4).toString('hex');
const schema = `recall_bench_auth_${run}`;

interface Credential {
  name: string;
  /** A new credential of this kind, made through the API of `app`; returns its bearer token. */
  issue(app: App): Promise<string>;
  /** What a cache miss of this token reads from PostgreSQL. */
  lookUp(db: Database, token: string): Promise<unknown>;
}

const CREDENTIALS: Credential[] = [
  {
    name: 'session',
    async issue(app) {
      const response = await app.yoga.fetch('http://bench/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'mutation ($input: SignUpInput!) { signUp(input: $input) { token } }',
          variables: { input: { email: `bench-${randomBytes(4).toString('hex')}@example.com`, password: 'bench password', name: 'Bench User' } },
        }),
      });
      return ((await response.json()) as { data: { signUp: { token: string } } }).data.signUp.token;
    },
    lookUp: (db, token) => findSessionsByTokenHashes(db, [hashToken(token)]),
  },
  {
    name: 'API key',
    async issue(app) {
      const session = await CREDENTIALS[0]!.issue(app);
      const response = await app.yoga.fetch('http://bench/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
        body: JSON.stringify({
          query: 'mutation { createApiKey(input: { name: "bench", scopes: [MEMORY_READ] }) { secret } }',
        }),
      });
      return ((await response.json()) as { data: { createApiKey: { secret: string } } }).data.createApiKey.secret;
    },
    lookUp: (db, token) => findApiKeysBySecretHashes(db, [hashToken(token)]),
  },
];

/** The cached set-ups, each an app of its own (own Redis prefix) on the one database. */
const SETUPS = [
  { name: 'warm cache, L1 + Redis (the default): an L1 hit, opened once per entry', env: {} },
  { name: 'warm cache, Redis only (`CACHE_L1_MAX_ENTRIES=0`): one MGET and one open', env: { CACHE_L1_MAX_ENTRIES: '0' } },
];

let statements = 0;

interface Measured {
  micros: number;
  sql: number;
}

/**
 * µs per call (the median of ROUNDS rounds) and statements per call, of each of `calls`: their
 * rounds take turns, so that a machine busy for a while slows them all alike.
 */
async function measureSideBySide(calls: Array<() => Promise<unknown>>): Promise<Measured[]> {
  for (const call of calls) for (let i = 0; i < 500; i++) await call();
  const totals = calls.map(() => ({ rounds: [] as number[], calls: 0, statements: 0 }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, call] of calls.entries()) {
      const total = totals[index]!;
      const statementsBefore = statements;
      const started = performance.now();
      const until = started + (SECONDS * 1000) / ROUNDS;
      let n = 0;
      while (performance.now() < until) {
        for (let i = 0; i < 100; i++) await call();
        n += 100;
      }
      total.rounds.push(((performance.now() - started) * 1000) / n);
      total.calls += n;
      total.statements += statements - statementsBefore;
    }
  }
  return totals.map((total) => ({ micros: median(total.rounds), sql: total.statements / total.calls }));
}

const baseEnv = {
  DATABASE_URL,
  DATABASE_SCHEMA: schema,
  LOG_LEVEL: 'silent',
  NODE_ENV: 'production',
  SESSION_SECRET: SECRET,
  REDIS_URL,
  RATE_LIMIT_FREE_PER_WINDOW: '1000000000',
  RATE_LIMIT_SIGNUP: '1000000/1h',
};
const db = await openDatabase(loadConfig(baseEnv), logger, () => statements++);
const apps: Array<{ app: App; close(): Promise<void> }> = [];
try {
  for (const [index, setup] of SETUPS.entries()) {
    const config = loadConfig({ ...baseEnv, REDIS_KEY_PREFIX: `recall-bench:${run}:${index}:`, ...setup.env });
    const registry = new Registry();
    const cache = await createCache(config, { db, registry, logger });
    const app = createApp({ config, db, cache, registry, logger });
    apps.push({ app, close: async () => (await app.close(), await cache.clear(), await cache.close()) });
  }
  const cases: Array<{ credential: string; lookup: string; call: () => Promise<unknown> }> = [];
  for (const credential of CREDENTIALS) {
    const token = await credential.issue(apps[0]!.app);
    const authorization = `Bearer ${token}`;
    for (const [index, setup] of SETUPS.entries()) {
      const { deps } = apps[index]!.app;
      // As the admission's first lookup: at what this instance has applied.
      cases.push({ credential: credential.name, lookup: setup.name, call: () => deps.authenticate(authorization, { ...deps.cache.log.position(), exact: true }) });
    }
    cases.push({ credential: credential.name, lookup: 'straight against PostgreSQL: the query a miss runs', call: () => credential.lookUp(db, token) });
  }
  const measured = await measureSideBySide(cases.map(({ call }) => call));
  const rows = cases.map(({ credential, lookup }, index) => `| ${credential} | ${lookup} | ${measured[index]!.micros.toFixed(1)} | ${measured[index]!.sql.toFixed(2)} |`);

  // What sealing itself costs, on a session as it is cached; and opening one sealed under a
  // previous secret (a failed try under the current one first), as after a rotation.
  const [found] = await findSessionsByTokenHashes(db, [hashToken(await CREDENTIALS[0]!.issue(apps[0]!.app))]);
  const plaintext = stringifyWithDates(found);
  const [current, previous] = [randomBytes(32), randomBytes(32)];
  const sealer = createSealer({ current, previous: [previous] });
  const key = `recall:session:${hashToken('x')}`;
  const sealed = sealer.seal(plaintext, key);
  const sealedBefore = createSealer({ current: previous, previous: [] }).seal(plaintext, key);
  const [seal, open, openPrevious] = await measureSideBySide([
    async () => sealer.seal(plaintext, key),
    async () => sealer.open(sealed, key),
    async () => sealer.open(sealedBefore, key),
  ]);

  const section = `### Cost of authenticating a request

Written by \`npm run bench:auth\` (bench/auth.ts) on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${os.cpus().length} cores,
PostgreSQL and Redis on loopback, NODE_ENV=production. Each row times the authentication step of
a request (\`authenticate\`: every strategy, at the read position of a request's first lookup),
called back to back for ${SECONDS} s in ${ROUNDS} rounds that take turns with the other rows; µs is
the median round. Cached sessions and API keys are sealed (AES-256-GCM); the straight row runs the query a
cache miss runs, on the same database. Load average (1 min) at the end: ${os.loadavg()[0]!.toFixed(1)}.

| Credential | Lookup | µs per authentication | SQL per authentication |
|---|---|---|---|
${rows.join('\n')}

Sealing a session as cached (${Buffer.byteLength(plaintext)} bytes of JSON, ${sealed.length} characters sealed): seal
${seal!.micros.toFixed(1)} µs, open ${open!.micros.toFixed(1)} µs, open a value sealed under the previous secret
${openPrevious!.micros.toFixed(1)} µs.`;
  await writeSubsections(
    ISSUE_11,
    'What issue 11 asks of the benchmark. Each subsection names the command that wrote it; the machine is shared and noisy: compare rows measured side by side in one run.',
    [section],
  );
  process.stdout.write(`\n${section}\n`);
} finally {
  for (const { close } of apps) await close();
  await db.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.close();
}
process.exit(0);
