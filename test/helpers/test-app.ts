import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/observability/logger.js';
import type { Redis } from 'ioredis';
import { createCache, type Cache } from '../../src/cache/cache.js';
import { createRedisClient } from '../../src/cache/redis-client.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Database } from '../../src/db/database.js';
import { instrumentDatabase } from '../../src/db/instrumented-database.js';
import { createEvents, type Events } from '../../src/events/create-events.js';
import { createTestClock, type TestClock } from './test-clock.js';
import { createTestDatabase, type Backend, type TestDatabase } from './test-database.js';

export interface GraphQLResponse<Data = any> {
  status: number;
  headers: Headers;
  data: Data;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
}

export interface TestApp {
  app: App;
  database: TestDatabase;
  clock: TestClock;
  /** Sends one GraphQL operation through yoga (no socket). */
  gql<Data = any>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<Data>>;
  /** Signs up a new user with a unique email. */
  newUser(name?: string): Promise<TestUser>;
  /** Logs the user in again and returns the new token. */
  login(user: TestUser): Promise<string>;
  /** Creates a context of `user` holding one memory per content, in order. */
  newMemories(user: TestUser, contents: string[]): Promise<{ contextId: string; memoryIds: string[] }>;
  /** Runs `work` and returns the SQL statements it sent. */
  countStatements(work: () => Promise<unknown>): Promise<string[]>;
  /** The sum of a metric's values whose labels include `labels` (0 when none has been counted). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  cache: Cache;
  events: Events;
  /** Closes the app and its cache (emptying its Redis prefix); drops the database unless shared. */
  close(): Promise<void>;
}

export const TEST_PASSWORD = 'correct horse battery';

/**
 * Statements the invalidation log sends on its own timers (the replay of changes left pending,
 * and the collection of old ones), whatever a test does: countStatements leaves them out.
 */
const BACKGROUND_STATEMENTS = ['SELECT id, change, created_at AS "createdAt" FROM cache_outbox', 'DELETE FROM cache_outbox WHERE created_at <'];

export interface TestAppOptions {
  /** Extra environment for the config. */
  env?: Record<string, string>;
  /** Use this Redis (REDIS_URL) under a fresh random key prefix, instead of the in-process cache. */
  redisUrl?: string;
  /** Share this database (another app instance of the same deployment) instead of a new one. */
  database?: TestDatabase;
  /** Wraps the database the app uses (not the test's own handle), e.g. to slow some reads down. */
  wrapDatabase?: (db: Database) => Database;
  /** Receives every line the app logs, at every level, through the app's own logger (redaction included). */
  logLines?: string[];
  /** Receives the cache's Redis connections by name (`cache`, `invalidations`), e.g. to hold one back. */
  redisClients?: Map<string, Redis>;
}

export async function createTestApp(backend: Backend, options: TestAppOptions = {}): Promise<TestApp> {
  const { env = {}, redisUrl, database: shared, wrapDatabase = (db: Database) => db, redisClients, logLines } = options;
  const database = shared ?? (await createTestDatabase(backend, env));
  const logger = logLines ? createLogger({ LOG_LEVEL: 'trace' }, { write: (line: string) => void logLines.push(line) }) : pino({ level: 'silent' });
  // A shared database was made with another app's environment: this one's is laid over it.
  const config = redisUrl
    ? loadConfig({ ...configEnv(database.config), ...env, REDIS_URL: redisUrl, REDIS_KEY_PREFIX: env['REDIS_KEY_PREFIX'] ?? `recall-test:${randomBytes(6).toString('hex')}:` })
    : shared
      ? loadConfig({ ...configEnv(database.config), ...env })
      : database.config;
  const registry = new Registry();
  const clock = createTestClock();
  const db = instrumentDatabase(wrapDatabase(database.db), registry);
  const redisClient: typeof createRedisClient = (clientOptions) => {
    const client = createRedisClient(clientOptions);
    redisClients?.set(clientOptions.name, client);
    return client;
  };
  const cache = await createCache(config, { db, registry, logger, clock, redisClient });
  const events = createEvents(config, registry, logger, clock);
  const app = createApp({ config, db, cache, events, registry, clock, logger });

  const gql: TestApp['gql'] = async (query, variables, options = {}) => {
    const response = await app.yoga.fetch('http://recall.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data: any; errors?: GraphQLResponse['errors'] };
    return { status: response.status, headers: response.headers, data: body.data, errors: body.errors };
  };

  return {
    app,
    database,
    clock,
    gql,
    async newUser(name = 'Test User') {
      const email = `user-${randomBytes(5).toString('hex')}@example.com`;
      const result = await gql(
        `mutation ($input: SignUpInput!) { signUp(input: $input) { token user { id } errors { code message } } }`,
        { input: { email, password: TEST_PASSWORD, name } },
      );
      const payload = result.data?.signUp;
      if (!payload?.token) throw new Error(`signUp failed: ${JSON.stringify(result)}`);
      return { id: payload.user.id, email, token: payload.token };
    },
    async login(user) {
      const result = await gql(`mutation ($input: LoginInput!) { login(input: $input) { token errors { code } } }`, {
        input: { email: user.email, password: TEST_PASSWORD },
      });
      const token = result.data?.login?.token;
      if (!token) throw new Error(`login failed: ${JSON.stringify(result)}`);
      return token;
    },
    async newMemories(user, contents) {
      const created = await gql('mutation { createContext(input: { name: "Test" }) { context { id } } }', {}, { token: user.token });
      const contextId: string = created.data.createContext.context.id;
      const added = await gql(
        'mutation ($c: ID!, $items: [NewMemoryInput!]!) { addMemories(input: { contextId: $c, items: $items }) { memories { id } } }',
        { c: contextId, items: contents.map((content) => ({ content })) },
        { token: user.token },
      );
      return { contextId, memoryIds: added.data.addMemories.memories.map((memory: { id: string }) => memory.id) };
    },
    async metric(name, labels = {}) {
      const found = await app.registry.getSingleMetric(name)?.get();
      return (found?.values ?? [])
        .filter((value) => Object.entries(labels).every(([label, wanted]) => value.labels[label] === wanted))
        .reduce((sum, { value }) => sum + value, 0);
    },
    async countStatements(work) {
      await app.deps.accessRecorder.flush();
      await cache.log.flush();
      database.statements.length = 0;
      await work();
      return database.statements.filter((sql) => !BACKGROUND_STATEMENTS.some((start) => sql.trimStart().startsWith(start)));
    },
    cache,
    events,
    async close() {
      await app.close();
      await events.bus.close();
      await cache.clear().catch(() => undefined);
      await cache.close();
      if (!shared) await database.drop();
    },
  };
}

/** The environment a config was loaded from, for loading a variant of it. */
function configEnv(config: Config): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, String(value)]),
  );
}
