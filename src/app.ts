import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createSchema, createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { resolvers } from '../resolvers/index.js';
import { createAdmission } from './admission/admission.js';
import { guardLimitedFields } from './admission/field-limit-guard.js';
import { guardScopedFields } from './admission/scope-guard.js';
import { readFieldLimits, type FieldLimitOverride } from './admission/field-limits.js';
import { createAuthenticator } from './admission/auth-strategy.js';
import { sessionTokenStrategy } from './admission/session-token-strategy.js';
import { apiKeyStrategy } from './admission/api-key-strategy.js';
import type { AppDeps } from './app-deps.js';
import { resolveSessionSecrets } from './auth/session-secret.js';
import { createMemoryCache, type Cache } from './cache/cache.js';
import { createSealer } from './cache/sealer.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { createEvents, type Events } from './events/create-events.js';
import type { GraphQLContext, RequestContext, ServerContext } from './graphql-context.js';
import { createCachedHitFront } from './http/cached-hit-front.js';
import { graphiqlOptions, renderGraphiQL } from './http/graphiql.js';
import { createMetricsEndpoint, metricsPlacement } from './http/metrics-endpoint.js';
import { createHttpServer, httpServerOptions, type RequestListener } from './http/server.js';
import { serveGraphQLOverWebSocket } from './http/websocket-transport.js';
import { createIdGenerator } from './ids.js';
import { createCachedSources } from './loaders/cached-sources.js';
import { createLogger } from './observability/logger.js';
import { observeProcess } from './observability/process-metrics.js';
import { createPlugins } from './plugins/index.js';
import { useEventStreamErrors } from './plugins/use-event-stream-errors.js';
import { useEventStreamIds } from './plugins/use-event-stream-ids.js';
import { useOperationMetrics } from './plugins/use-operation-metrics.js';
import { useSingleConnectionSse } from './plugins/use-single-connection-sse.js';
import { createRateLimiter } from './rate-limit/rate-limiter.js';
import { createSubscriptionSlots } from './rate-limit/subscription-slots.js';
import { createAccessRecorder } from './relevance/access-recorder.js';
import { createContextFactory } from './request-context.js';
import { cacheControlOverrides, withCacheControl } from './schema/cache-control.js';

const SCHEMA_DIR = new URL('../schema/', import.meta.url);
const GRAPHQL_ENDPOINT = '/graphql';
/** graphql-sse's single-connection mode (reserve with PUT, then an EventSource with `?token=`). */
const EVENT_STREAM_ENDPOINT = '/graphql/stream';

export interface AppOptions {
  config: Config;
  /** Owned by the caller, who closes it after the server has drained. */
  db: Database;
  /** Owned by the caller too. Default: an in-process cache registered on `registry`. */
  cache?: Cache;
  /** Owned by the caller too. Default: an in-process event bus. */
  events?: Events;
  /** Where metrics are registered. Default: a registry of this app's own. */
  registry?: Registry;
  logger?: Logger;
  clock?: Clock;
}

export interface App {
  yoga: YogaServerInstance<ServerContext, RequestContext>;
  server: Server;
  /** The listener of /metrics alone, when METRICS_PORT is set (the caller listens on it); otherwise null. */
  metricsServer: Server | null;
  deps: AppDeps;
  registry: Registry;
  /**
   * Ends every subscription (WebSocket, SSE, and graphql-sse's single-connection streams) as a dropped connection, so that clients
   * reconnect elsewhere; call before draining, as these never finish on their own.
   */
  endSubscriptions(): Promise<void>;
  /** Ends subscriptions and writes what is still buffered (retrieval counts); call after the server has drained. */
  close(): Promise<void>;
}

export function loadTypeDefs(): string[] {
  return readdirSync(SCHEMA_DIR)
    .filter((file) => file.endsWith('.graphql'))
    .sort()
    .map((file) => readFileSync(new URL(file, SCHEMA_DIR), 'utf8'));
}

/** The settings that replace the SDL's @rateLimit values. */
function fieldLimitOverrides(config: Config): FieldLimitOverride[] {
  return [
    { field: 'Mutation.login', index: 0, value: config.RATE_LIMIT_LOGIN_PER_EMAIL },
    { field: 'Mutation.login', index: 1, value: config.RATE_LIMIT_LOGIN_PER_ADDRESS },
    { field: 'Mutation.signUp', index: 0, value: config.RATE_LIMIT_SIGNUP },
    { field: 'Query.searchMemories', index: 0, value: config.RATE_LIMIT_SEARCH_MEMORIES },
    { field: 'Mutation.addMemories', index: 0, value: config.RATE_LIMIT_ADD_MEMORIES },
  ];
}

const notFound: RequestListener = (_req, res) => {
  res.writeHead(404, { 'content-type': 'text/plain' }).end('Only /metrics is served on this port.\n');
};

/** Builds the GraphQL server and its HTTP front; nothing listens until `server.listen`. */
export function createApp(options: AppOptions): App {
  const { config, db } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config);
  const registry = options.registry ?? new Registry();
  observeProcess(registry);
  const cache = options.cache ?? createMemoryCache(config, { db, registry, logger, clock });
  const limiter = createRateLimiter({
    redisUrl: config.REDIS_URL,
    redisCommandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    windowMs: config.RATE_LIMIT_WINDOW_SECONDS * 1000,
    budgets: { FREE: config.RATE_LIMIT_FREE_PER_WINDOW, PRO: config.RATE_LIMIT_PRO_PER_WINDOW },
    keys: cache.keys,
    clock,
    registry,
    logger,
  });
  const subscriptionSlots = createSubscriptionSlots({
    max: config.MAX_SUBSCRIPTIONS_PER_USER,
    leaseMs: config.SUBSCRIPTION_LEASE_SECONDS * 1000,
    redis: config.REDIS_URL ? { url: config.REDIS_URL, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS } : null,
    keys: cache.keys,
    clock,
    registry,
    logger,
  });
  const events = options.events ?? createEvents({ ...config, REDIS_URL: undefined }, registry, logger, clock);
  // Only what leaves the process is sealed: the in-process cache without Redis is memory like L1.
  const sealer = cache.mode === 'redis' ? createSealer(resolveSessionSecrets(config, logger)) : undefined;
  const sources = createCachedSources({ config, db, clock, logger, cache, sealer });
  const authenticate = createAuthenticator([
    sessionTokenStrategy({ sessions: sources.sessions, db, clock, sessionTtlSeconds: config.SESSION_TTL_SECONDS }),
    apiKeyStrategy({ apiKeys: sources.apiKeys, db, clock }),
  ]);
  const schema = createSchema<GraphQLContext>({
    typeDefs: withCacheControl(loadTypeDefs(), cacheControlOverrides(config)),
    resolvers,
  });
  const fieldLimits = readFieldLimits(schema, fieldLimitOverrides(config));
  guardLimitedFields(schema, fieldLimits, (context) => (context as GraphQLContext).allowances);
  guardScopedFields(schema, (context) => (context as GraphQLContext).viewer);
  const accessRecorder = createAccessRecorder({ db, clock, logger, flushIntervalMs: config.ACCESS_FLUSH_INTERVAL_MS });
  const deps: AppDeps = {
    config,
    db,
    clock,
    logger,
    newId: createIdGenerator(() => clock.now().getTime()),
    cache,
    sources,
    accessRecorder,
    events,
    limiter,
    fieldLimits,
    subscriptionSlots,
    authenticate,
  };
  const admission = createAdmission({
    authenticate,
    limiter,
    log: cache.log,
    schema,
    fieldLimits,
    cost: { defaultPageSize: config.DEFAULT_PAGE_SIZE, maxPageSize: config.MAX_PAGE_SIZE },
    maxOperationCost: config.MAX_OPERATION_COST,
    maxTokens: config.MAX_QUERY_TOKENS,
    maxVariableDepth: config.MAX_VARIABLE_DEPTH,
    trustProxy: config.TRUST_PROXY,
    logger,
  });

  const eventStreams = useEventStreamIds(config.SUBSCRIPTION_KEEPALIVE_MS);
  const singleConnection = useSingleConnectionSse({ admission, logger, endpoint: EVENT_STREAM_ENDPOINT, graphqlEndpoint: GRAPHQL_ENDPOINT });
  const yoga = createYoga<ServerContext, RequestContext>({
    schema,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    context: createContextFactory(deps),
    plugins: [useOperationMetrics({ registry }), ...createPlugins(deps, admission), eventStreams.plugin, useEventStreamErrors(), ...singleConnection.plugins],
    // The HTTP server has refused any body without a declared length or over MAX_BODY_BYTES
    // before yoga sees it (and node reads no more than declared), so yoga's own limit (25 MB)
    // could never apply; it would pipe every body through a TransformStream, about 6% of a
    // request on the miss path.
    maxRequestBodySize: false,
    // A JSON array of operations; each is admitted and spends on its own (see useAdmission).
    batching: { limit: config.MAX_BATCH_SIZE },
    graphiql: config.GRAPHIQL ? graphiqlOptions : false,
    renderGraphiQL,
    landingPage: false,
    // The HTTP server applies the one header policy (CORS, Vary) to every reply, yoga's included.
    cors: false,
    // yoga's own probe: the process answers, whatever its dependencies say (/health checks those).
    healthCheckEndpoint: '/livez',
    logging: logger.child({ component: 'yoga' }),
    maskedErrors: {
      // Clients see "Unexpected error." and no stack in every environment; the log has it all.
      maskError(error, message) {
        const masked = maskError(error, message, false);
        if (masked !== error) logger.error({ err: error }, 'unexpected error');
        return masked;
      },
    },
  });

  const front = createCachedHitFront(
    {
      admission,
      responses: cache.responses,
      persistedQueries: cache.persistedQueries,
      accessRecorder,
      endpoint: GRAPHQL_ENDPOINT,
      responseCacheEnabled: config.RESPONSE_CACHE_ENABLED,
      development: config.NODE_ENV === 'development',
      hits: cache.metrics.fastPathHits,
      logger,
    },
    yoga,
  );
  const placement = metricsPlacement(config);
  const metrics = createMetricsEndpoint({ registry, logger, token: config.METRICS_TOKEN });
  const server = createHttpServer(placement === 'main-port' ? (req, res) => metrics(req, res) || front(req, res) : front, httpServerOptions(config));
  const metricsServer = placement === 'own-port' ? createHttpServer((req, res) => metrics(req, res) || notFound(req, res), httpServerOptions(config)) : null;
  if (placement === 'off') logger.info('/metrics is not served: in production it needs METRICS_TOKEN, or METRICS_PORT for a port of its own');
  const websocket = serveGraphQLOverWebSocket(server, yoga, {
    admission,
    maxPayloadBytes: config.MAX_BODY_BYTES,
    keepAliveMs: config.SUBSCRIPTION_KEEPALIVE_MS,
  });
  async function endSubscriptions() {
    await websocket.close();
    eventStreams.abortAll();
    singleConnection.endAll();
  }
  return {
    yoga,
    server,
    metricsServer,
    deps,
    registry,
    endSubscriptions,
    async close() {
      await endSubscriptions();
      await accessRecorder.close();
      await limiter.close();
      await subscriptionSlots.close();
    },
  };
}
