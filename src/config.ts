import { z } from 'zod';
import { parseLimitSetting } from './admission/field-limits.js';
import { decodeSessionSecret } from './auth/session-secret.js';
import { parseAllowedOrigins } from './http/header-policy.js';

/**
 * Every setting Recall reads, parsed once from the environment. This is the only module that
 * reads `process.env`; each variable has a default and a row in the README's table.
 */

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const flag = z.stringbool({ truthy: ['true', '1', 'yes', 'on'], falsy: ['false', '0', 'no', 'off'] });

const databaseUrl = z
  .string()
  .trim()
  .refine((value) => /^(postgres|postgresql):\/\/|^memory:\/\/$/.test(value), {
    message: 'must start with postgres:// or postgresql://, or be memory:// for an in-memory database',
  });

const server = z.object({
  /** Deployment flavour; `development` turns on pretty logs. Default: development. */
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** TCP port of the HTTP server. Default: 4000. */
  PORT: port.default(4000),
  /** Interface to listen on. Default: 0.0.0.0 (all IPv4 interfaces). */
  HOST: z.string().min(1).default('0.0.0.0'),
  /**
   * Origins that browser code may call from: `*` (any origin), or a comma-separated list such as
   * `https://app.example.com,http://localhost:5173`. Default: *.
   */
  CORS_ORIGINS: z
    .string()
    .default('*')
    .transform((value, ctx) => {
      try {
        return parseAllowedOrigins(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Take the client IP from the last X-Forwarded-For address (set by a trusted proxy). Default: false. */
  TRUST_PROXY: flag.default(false),
  /** Milliseconds to drain in-flight requests after SIGTERM before closing them. Default: 10000. */
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
});

/** What the server shows of itself: open while developing, closed in production (see `withProductionDefaults`). */
const exposure = z.object({
  /** Serve GraphiQL on GET /graphql. Default: true, false when NODE_ENV=production. */
  GRAPHIQL: flag.optional(),
  /**
   * Who may query the schema (__schema, __type): `on` (anyone), `admins` (users with role ADMIN)
   * or `off` (nobody). Default: on, admins when NODE_ENV=production.
   */
  INTROSPECTION: z.enum(['on', 'admins', 'off']).optional(),
  /** "Did you mean …" suggestions (of fields, arguments, types, enum values) in errors. Default: true, false when NODE_ENV=production. */
  FIELD_SUGGESTIONS: flag.optional(),
});

/** Where Prometheus scrapes /metrics (see docs/decisions.md, issue 12). */
const metrics = z.object({
  /**
   * Bearer token /metrics requires (`Authorization: Bearer <token>`), at least 16 characters.
   * Default: unset: /metrics is open in development and test; in production the main port
   * serves it only with a token (METRICS_PORT serves it without one).
   */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** Serve /metrics on this port instead of the main one (which then has no /metrics). Default: unset. */
  METRICS_PORT: port.optional(),
  /** Interface the METRICS_PORT listener binds to. Default: 127.0.0.1 (this host only). */
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
});

/** Settings left unset take their default for the environment: production shows less. */
function withProductionDefaults<Env extends z.infer<typeof server> & z.infer<typeof exposure>>(env: Env) {
  const production = env.NODE_ENV === 'production';
  return {
    ...env,
    GRAPHIQL: env.GRAPHIQL ?? !production,
    INTROSPECTION: env.INTROSPECTION ?? (production ? 'admins' : 'on'),
    FIELD_SUGGESTIONS: env.FIELD_SUGGESTIONS ?? !production,
  };
}

const logging = z.object({
  /** pino level: fatal, error, warn, info, debug, trace or silent. Default: info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const database = z.object({
  /** postgres://… for PostgreSQL; unset for embedded PGlite under DATA_DIR; memory:// for in-memory PGlite. */
  DATABASE_URL: databaseUrl.optional(),
  /** Folder of the embedded database when DATABASE_URL is unset. Default: ./data. */
  DATA_DIR: z.string().min(1).default('./data'),
  /** Folder keeping the embedded database's template (a new database, ready to load). Default: node_modules/.cache/recall. */
  DATA_TEMPLATE_DIR: z.string().min(1).optional(),
  /** PostgreSQL schema holding Recall's tables; created if missing. Default: public. */
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier (a-z, 0-9, _)')
    .default('public'),
  /** Maximum connections in the PostgreSQL pool. Default: 10. */
  DATABASE_POOL_MAX: positiveInt.default(10),
  /** Server-side statement timeout for PostgreSQL, in milliseconds. Default: 5000. */
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(5_000),
});

const seconds = z.coerce.number().int().positive();

const cache = z.object({
  /** redis://[user:pass@]host:port[/db], or rediss:// for TLS. Unset: an in-process cache. */
  REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  /** Prefix of every Redis key and channel, so that Recall can share a Redis. Default: recall:. */
  REDIS_KEY_PREFIX: z.string().min(1).max(64).default('recall:'),
  /** How long a cache command may take before it counts as failed, in ms. Default: 250. */
  REDIS_COMMAND_TIMEOUT_MS: positiveInt.default(250),
  /** Consecutive Redis failures that open the circuit (Redis is skipped). Default: 5. */
  REDIS_BREAKER_FAILURES: positiveInt.default(5),
  /** While the circuit is open, how often Redis is probed, in ms. Default: 1000. */
  REDIS_BREAKER_PROBE_MS: positiveInt.default(1_000),
  /** Lifetime of a cached memory, in seconds. Default: 3600. */
  CACHE_TTL_MEMORY_SECONDS: seconds.default(3_600),
  /** Lifetime of a cached relevance score, in seconds. Default: 900. */
  CACHE_TTL_SCORE_SECONDS: seconds.default(900),
  /** Lifetime of a cached session, in seconds. Default: 1800. */
  CACHE_TTL_SESSION_SECONDS: seconds.default(1_800),
  /** Lifetime of cached users and contexts, in seconds. Default: 600. */
  CACHE_TTL_DEFAULT_SECONDS: seconds.default(600),
  /** Lifetime of a cached "not found", in seconds. Default: 30. */
  CACHE_TTL_NOT_FOUND_SECONDS: seconds.default(30),
  /** The last part of a score's lifetime in which it is served while being recomputed, in seconds. Default: 60. */
  CACHE_SCORE_STALE_SECONDS: seconds.default(60),
  /** How long one instance may hold the lease to compute a missing score, in ms. Default: 2000. */
  CACHE_SCORE_LEASE_MS: positiveInt.default(2_000),
  /** Entries of the in-process tier in front of Redis; 0 turns that tier off. Default: 10000. */
  CACHE_L1_MAX_ENTRIES: z.coerce.number().int().min(0).default(10_000),
  /** Lifetime of an in-process entry in front of Redis, in seconds (a bound on cross-instance staleness if an invalidation message is lost). Default: 30. */
  CACHE_L1_TTL_SECONDS: seconds.default(30),
  /** Entries of the in-process cache when REDIS_URL is unset. Default: 100000. */
  CACHE_MEMORY_MAX_ENTRIES: positiveInt.default(100_000),
  /**
   * How long a write waits for Redis to acknowledge its invalidation when Redis neither answers
   * nor refuses connections, before it is answered 503 CACHE_UNAVAILABLE (the write is saved; the
   * caches learn of it when Redis answers), in ms. Default: 10000.
   */
  CACHE_WRITE_WAIT_MS: positiveInt.default(10_000),
});

const optionalSeconds = z.coerce.number().int().min(0).optional();

const responseCache = z.object({
  /** Cache whole query responses, per viewer. Default: true. */
  RESPONSE_CACHE_ENABLED: flag.default(true),
  /** Lifetime of a cached response whose types set none (@cacheControl), in seconds. Default: 600. */
  RESPONSE_CACHE_TTL_SECONDS: seconds.default(600),
  /** Overrides the SDL's @cacheControl of Memory (3600), in seconds; 0 disables. */
  RESPONSE_CACHE_TTL_MEMORY_SECONDS: optionalSeconds,
  /** Overrides the SDL's @cacheControl of RelevanceScore and MemorySearchConnection (900), in seconds. */
  RESPONSE_CACHE_TTL_SCORE_SECONDS: optionalSeconds,
  /** Overrides the SDL's @cacheControl of Query.viewer and Session (0: never cached), in seconds. */
  RESPONSE_CACHE_TTL_VIEWER_SECONDS: optionalSeconds,
  /** Responses kept in process (the whole response cache without Redis). Default: 10000. */
  RESPONSE_CACHE_MAX_ENTRIES: positiveInt.default(10_000),
  /** Hot responses kept in process in front of Redis, for CACHE_L1_TTL_SECONDS at most; 0 turns that tier off. Default: 1000. */
  RESPONSE_CACHE_L1_MAX_ENTRIES: z.coerce.number().int().min(0).default(1_000),
});

const persistedQueries = z.object({
  /** Lifetime of a registered persisted query (APQ), in seconds; a client re-registers an expired one on its own. Default: 86400 (a day). */
  APQ_TTL_SECONDS: seconds.default(86_400),
  /** Longest query text registered as a persisted query, in bytes; a longer one is run but not kept. Default: 16384. */
  APQ_MAX_QUERY_BYTES: positiveInt.default(16_384),
  /** Bytes of query text kept in process (the whole store without Redis, else a copy in front of it). Default: 8388608 (8 MiB). */
  APQ_MEMORY_MAX_BYTES: positiveInt.default(8_388_608),
});

const limits = z.object({
  /** Largest accepted request body, in bytes. Default: 1048576 (1 MiB). */
  MAX_BODY_BYTES: positiveInt.default(1_048_576),
  /** Most operations in one batched request (a JSON array of operations); a larger batch is refused with 413. Default: 10. */
  MAX_BATCH_SIZE: positiveInt.default(10),
  /** Deepest accepted selection set. Default: 12. */
  MAX_QUERY_DEPTH: positiveInt.default(12),
  /** Most tokens accepted in one GraphQL document. Default: 2000. */
  MAX_QUERY_TOKENS: positiveInt.default(2_000),
  /** Most aliases accepted in one GraphQL document. Default: 30. */
  MAX_QUERY_ALIASES: positiveInt.default(30),
  /** Page size when `first` is omitted. Default: 20. */
  DEFAULT_PAGE_SIZE: positiveInt.default(20),
  /** Largest accepted `first`, and the most ids `nodes(ids)` takes. Default: 100. */
  MAX_PAGE_SIZE: positiveInt.default(100),
  /** Most items in one addMemories call. Default: 100. */
  MAX_MEMORIES_PER_BATCH: positiveInt.default(100),
  /** Longest memory content, in characters. Default: 8000. */
  MAX_MEMORY_CONTENT_LENGTH: positiveInt.default(8_000),
  /** Largest DataLoader batch; bigger batches are split. Default: 100. */
  DATALOADER_MAX_BATCH_SIZE: positiveInt.default(100),
  /** Deepest nesting of objects and lists in one variable; walking deeper input costs stack, and no input needs it. Default: 32. */
  MAX_VARIABLE_DEPTH: positiveInt.default(32),
  /**
   * Most sockets open at once (HTTP, SSE and WebSocket alike); past it new ones are closed at once.
   * Set it below the file-descriptor limit (`ulimit -n`) less the database pool and Redis, so that a
   * flood of sockets is refused instead of breaking the connections already open. Default: 10000
   * (more than one instance serves well, and below the limit container runtimes usually set).
   */
  MAX_CONNECTIONS: positiveInt.default(10_000),
  /** Time to receive a whole request, headers and body; a slower one is answered 408 and closed. Default: 10000. */
  REQUEST_BODY_TIMEOUT_MS: positiveInt.default(10_000),
});

const sessionSecret = z
  .string()
  .trim()
  .refine((value) => decodeSessionSecret(value) !== null, {
    message: 'must be 32 bytes, as 64 hex digits or 44 base64 characters (e.g. the output of `openssl rand -base64 32`)',
  });

const auth = z.object({
  /** Sliding lifetime of a login session, in seconds. Default: 1800 (30 minutes). */
  SESSION_TTL_SECONDS: positiveInt.default(1_800),
  /** The email of a user made an admin at start-up (they must have signed up). Unset: none. */
  RECALL_ADMIN_EMAIL: z.string().trim().min(1).optional(),
  /**
   * The key that seals cached sessions in Redis (AES-256-GCM): 32 bytes, hex or base64. Required
   * with NODE_ENV=production; elsewhere, unset, one is generated once and kept in
   * DATA_DIR/session-secret (or, with a memory:// database, made up per process). Default: unset.
   */
  SESSION_SECRET: sessionSecret.optional(),
  /**
   * Earlier SESSION_SECRETs, comma-separated, still accepted for opening cached values; each value
   * is resealed under SESSION_SECRET on its next write. Default: none.
   */
  SESSION_SECRET_PREVIOUS: z
    .string()
    .transform((value) => value.split(',').map((item) => item.trim()).filter((item) => item !== ''))
    .pipe(z.array(sessionSecret))
    .default([]),
  /** Most API keys a user may hold that are neither revoked nor expired. Default: 100. */
  API_KEYS_MAX_PER_USER: positiveInt.default(100),
});

const relevance = z.object({
  /** How often retrieval counts (the access-frequency factor) are added to PostgreSQL, in ms. Default: 1000. */
  ACCESS_FLUSH_INTERVAL_MS: positiveInt.default(1_000),
  /** Age at which the recency factor of a memory halves, in hours. Default: 168 (one week). */
  RELEVANCE_RECENCY_HALF_LIFE_HOURS: z.coerce.number().positive().default(168),
});

const events = z.object({
  /** Events kept in the Redis Stream (or in process) for reconnecting SSE clients (approximate cap). Default: 10000. */
  EVENT_STREAM_MAX_LENGTH: positiveInt.default(10_000),
  /** Most missed events sent to one client reconnecting with Last-Event-ID. Default: 1000. */
  EVENT_REPLAY_LIMIT: positiveInt.default(1_000),
  /** Events queued for one slow subscriber before its subscription is ended (it may resume with Last-Event-ID). Default: 1000. */
  SUBSCRIPTION_QUEUE_LIMIT: positiveInt.default(1_000),
  /** How often an idle SSE stream or WebSocket is pinged, in ms. Default: 12000. */
  SUBSCRIPTION_KEEPALIVE_MS: positiveInt.default(12_000),
  /**
   * Concurrent subscriptions one user (or, anonymous, one address) may hold across every instance
   * and both transports; admins are not capped. A client needs about one per open view (a context's
   * memoryEvents, and cacheInvalidated), so a few devices stay far below 20, while each one holds a
   * connection and a queue of up to SUBSCRIPTION_QUEUE_LIMIT events. Default: 20.
   */
  MAX_SUBSCRIPTIONS_PER_USER: positiveInt.default(20),
  /** How long a subscription's slot outlives an instance that crashed holding it, in seconds (renewed every third of it). Default: 60. */
  SUBSCRIPTION_LEASE_SECONDS: positiveInt.default(60),
});

const limitSetting = z
  .string()
  .trim()
  .refine(
    (value) => {
      try {
        parseLimitSetting(value);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'must be max/window, e.g. 5/15m (window in s, m, h or d)' },
  );

const rateLimits = z.object({
  /** Length of the operation-budget window, in seconds. Default: 60. */
  RATE_LIMIT_WINDOW_SECONDS: positiveInt.default(60),
  /** Cost points per window for FREE users and anonymous callers (per address); a plain operation costs 1. Default: 100. */
  RATE_LIMIT_FREE_PER_WINDOW: positiveInt.default(100),
  /** Cost points per window for PRO users. Default: 1000. */
  RATE_LIMIT_PRO_PER_WINDOW: positiveInt.default(1_000),
  /**
   * Most cost points one operation may have (100 nodes a point; a plain operation costs 1); a
   * costlier one is refused with 400 before it runs. Default: 50 (5,000 nodes; a page of 100
   * memories with their contents is 202 nodes, 3 points).
   */
  MAX_OPERATION_COST: positiveInt.default(50),
  /** Largest response body sent; a larger result is replaced by a RESPONSE_TOO_LARGE error. Default: 16777216 (16 MiB). */
  MAX_RESPONSE_BYTES: positiveInt.default(16_777_216),
  /** login attempts per (email, address): max/window. Default: 5/15m. */
  RATE_LIMIT_LOGIN_PER_EMAIL: limitSetting.optional(),
  /** login attempts per address, whatever the email: max/window. Default: 20/15m. */
  RATE_LIMIT_LOGIN_PER_ADDRESS: limitSetting.optional(),
  /** signUp calls per address: max/window. Default: 5/1h. */
  RATE_LIMIT_SIGNUP: limitSetting.optional(),
  /** searchMemories calls per user (or anonymous address): max/window. Default: 30/1m. */
  RATE_LIMIT_SEARCH_MEMORIES: limitSetting.optional(),
  /** addMemories calls per user: max/window. Default: 20/1m. */
  RATE_LIMIT_ADD_MEMORIES: limitSetting.optional(),
});

const schema = server
  .extend(exposure.shape)
  .extend(metrics.shape)
  .extend(logging.shape)
  .extend(database.shape)
  .extend(cache.shape)
  .extend(responseCache.shape)
  .extend(persistedQueries.shape)
  .extend(limits.shape)
  .extend(auth.shape)
  .extend(relevance.shape)
  .extend(events.shape)
  .extend(rateLimits.shape)
  .refine((env) => env.DEFAULT_PAGE_SIZE <= env.MAX_PAGE_SIZE, {
    message: 'must not exceed MAX_PAGE_SIZE',
    path: ['DEFAULT_PAGE_SIZE'],
  })
  .refine((env) => env.CACHE_SCORE_STALE_SECONDS < env.CACHE_TTL_SCORE_SECONDS, {
    message: 'must be less than CACHE_TTL_SCORE_SECONDS',
    path: ['CACHE_SCORE_STALE_SECONDS'],
  })
  // A secret made up at start-up would differ between instances and restarts, and one in a file
  // is not how production keeps secrets.
  .refine((env) => env.NODE_ENV !== 'production' || env.SESSION_SECRET !== undefined, {
    message: 'is required when NODE_ENV=production: 32 random bytes, hex or base64 (e.g. `openssl rand -base64 32`), the same on every instance',
    path: ['SESSION_SECRET'],
  })
  .transform(withProductionDefaults);

/** Values that may hold credentials are never echoed back in error messages. */
const SECRET_VARIABLES = new Set(['DATABASE_URL', 'REDIS_URL', 'SESSION_SECRET', 'SESSION_SECRET_PREVIOUS', 'METRICS_TOKEN']);

export type Config = Readonly<z.infer<typeof schema>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the given environment (blank values count as unset) and gathers every problem at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const result = schema.safeParse(present);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        const key = issue.path[0];
        const got = typeof key === 'string' && !SECRET_VARIABLES.has(key) ? present[key] : undefined;
        return `${name}: ${issue.message}${got === undefined ? '' : ` (got "${got}")`}`;
      }),
    );
  }
  return Object.freeze(result.data);
}
