import { readdirSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createSchema, createYoga, maskError, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { resolvers } from '../resolvers/index.js';
import { createMemoryCache, type Cache } from './cache/cache.js';
import { systemClock, type Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import { createEvents, type Events } from './events/create-events.js';
import type { AppDeps, GraphQLContext, RequestContext } from './graphql-context.js';
import { createCachedResponseFastPath } from './cached-response-fast-path.js';
import { createHttpServer } from './http-server.js';
import { createIdGenerator } from './ids.js';
import { cacheControlOverrides, withCacheControl } from './schema/cache-control.js';
import { createCachedSources } from './loaders/cached-sources.js';
import { createAccessRecorder } from './relevance/access-recorder.js';
import { createLogger } from './observability/logger.js';
import { createPlugins } from './plugins/index.js';
import { createOperationBudget } from './rate-limit/operation-budget.js';
import { useEventStreamIds } from './plugins/use-event-stream-ids.js';
import { createContextFactory, type ServerContext } from './request-context.js';
import { serveGraphQLOverWebSocket } from './websocket-transport.js';

const SCHEMA_DIR = new URL('../schema/', import.meta.url);

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
  deps: AppDeps;
  registry: Registry;
  /**
   * Ends every subscription (WebSocket and SSE) as a dropped connection, so that clients
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

/** Builds the GraphQL server and its HTTP front; nothing listens until `server.listen`. */
export function createApp(options: AppOptions): App {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(options.config);
  const registry = options.registry ?? new Registry();
  const cache = options.cache ?? createMemoryCache(options.config, registry, clock);
  const budget = createOperationBudget({ config: options.config, clock, registry, logger });
  const events = options.events ?? createEvents({ ...options.config, REDIS_URL: undefined }, registry, logger, clock);
  const deps: AppDeps = {
    config: options.config,
    db: options.db,
    clock,
    logger,
    newId: createIdGenerator(() => clock.now().getTime()),
    cache,
    sources: createCachedSources({ config: options.config, db: options.db, clock, logger, cache }),
    accessRecorder: createAccessRecorder({
      db: options.db,
      clock,
      logger,
      flushIntervalMs: options.config.ACCESS_FLUSH_INTERVAL_MS,
    }),
    responses: cache.responses,
    events,
    budget,
  };

  const eventStreams = useEventStreamIds(options.config.SUBSCRIPTION_KEEPALIVE_MS);
  const yoga = createYoga<ServerContext, RequestContext>({
    schema: createSchema<GraphQLContext>({
      typeDefs: withCacheControl(loadTypeDefs(), cacheControlOverrides(options.config)),
      resolvers,
    }),
    context: createContextFactory(deps),
    plugins: [...createPlugins(deps), eventStreams.plugin],
    graphiql: options.config.GRAPHIQL ? { title: 'Recall' } : false,
    landingPage: false,
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

  const server = createHttpServer(createCachedResponseFastPath(deps, yoga.graphqlEndpoint, yoga), options.config.MAX_BODY_BYTES);
  const websocket = serveGraphQLOverWebSocket(server, yoga, deps);
  async function endSubscriptions() {
    await websocket.close();
    eventStreams.abortAll();
  }
  return {
    yoga,
    server,
    deps,
    registry,
    endSubscriptions,
    async close() {
      await endSubscriptions();
      await deps.accessRecorder.close();
      await budget.close();
    },
  };
}
