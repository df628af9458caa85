/**
 * The peers of the cached-hit benchmark: stock GraphQL servers, each with its own response
 * cache, over Recall's schema, resolvers and data (its app's stores and loaders), checking the
 * bearer token on every request as Recall does. They do less than Recall: no operation cost, no
 * budget, no rate limit. Their packages are the bench's (devDependencies): src/ never imports
 * them. Each counts the runs of `Query.context` (the query's root field), so that the parent can
 * see that a repeated query is answered from the cache, not resolved again.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { startStandaloneServer } from '@apollo/server/standalone';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { KeyvAdapter } from '@apollo/utils.keyvadapter';
import KeyvRedis from '@keyv/redis';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import Fastify from 'fastify';
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import Keyv from 'keyv';
import mercurius from 'mercurius';
import mercuriusCache from 'mercurius-cache';
import { resolvers } from '../resolvers/index.js';
import { contextResolvers } from '../resolvers/context.js';
import { loadTypeDefs, type App } from '../src/app.js';
import type { Config } from '../src/config.js';
import type { RequestContext } from '../src/graphql-context.js';
import { createLoaders } from '../src/loaders/create-loaders.js';
import type { Viewer } from '../src/request-scope.js';
import { cacheControlOverrides, withCacheControl } from '../src/schema/cache-control.js';

/** A server that listens, and how to stop it. */
export interface Listening {
  port: number;
  close(): Promise<void>;
}

/** Listens on a free loopback port. */
export async function listenOn(server: Server): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Runs of the query's root resolver so far, in any peer of this process. */
export let rootResolverRuns = 0;

export const PEER_IDS = ['stock-yoga', 'apollo', 'apollo-redis', 'mercurius'] as const;
export type PeerId = (typeof PEER_IDS)[number];

export const isPeer = (id: string): id is PeerId => (PEER_IDS as readonly string[]).includes(id);

/** The cache policy of an answer: the schema's @cacheControl types give 900 s (relevance) for this query. */
const DEFAULT_MAX_AGE_SECONDS = 3600;

function peerSchema(config: Config): GraphQLSchema {
  const context = contextResolvers.Query!.context as GraphQLFieldResolver<unknown, RequestContext>;
  return createSchema<RequestContext>({
    typeDefs: withCacheControl(loadTypeDefs(), cacheControlOverrides(config)),
    resolvers: [
      ...resolvers,
      {
        Query: {
          context: (parent: unknown, args: { id: string }, ctx: RequestContext, info: Parameters<typeof context>[3]) => {
            rootResolverRuns++;
            return context(parent, args, ctx, info);
          },
        },
      },
    ],
  });
}

/** What Recall's resolvers need of a request, for a viewer the peer authenticated. */
function peerContext(app: App, viewer: Viewer | null, authorization: string | null): RequestContext {
  const read = app.deps.cache.log.position();
  return {
    deps: app.deps,
    viewer,
    read,
    loaders: createLoaders(app.deps, viewer, () => read),
    retrieved: new Set(),
    dependsOn: new Set(),
    clientIp: null,
    // Peers spend no budget: nothing is limited.
    allowances: null,
    authorization,
    startedAt: performance.now(),
    cacheableUntil: { at: Infinity },
    delivery: { eventId: null },
  };
}

const authenticate = (app: App, authorization: string | null) => app.deps.authenticate(authorization, app.deps.cache.log.position());

export async function startPeer(id: PeerId, app: App, config: Config, redisUrl: string): Promise<Listening> {
  const schema = peerSchema(config);
  switch (id) {
    case 'stock-yoga':
      return startStockYoga(app, schema);
    case 'apollo':
      return startApollo(app, schema, null);
    case 'apollo-redis':
      return startApollo(app, schema, redisUrl);
    case 'mercurius':
      return startMercurius(app, schema);
  }
}

/** yoga with its stock in-memory response cache, per user. */
async function startStockYoga(app: App, schema: GraphQLSchema): Promise<Listening> {
  const viewers = new WeakMap<Request, Viewer | null>();
  const yoga = createYoga({
    schema,
    context: ({ request }) => peerContext(app, viewers.get(request) ?? null, request.headers.get('authorization')),
    plugins: [
      {
        async onRequest({ request }: { request: Request }) {
          viewers.set(request, await authenticate(app, request.headers.get('authorization')));
        },
      },
      useResponseCache({ session: (request) => viewers.get(request)?.user.id ?? null }),
    ],
    logging: false,
    graphiql: false,
  });
  return listenOn(createServer(yoga));
}

/**
 * Apollo Server 5 with its response cache plugin, in its default in-process cache or, given a
 * Redis URL, in Redis through Keyv (the documented way: KeyvAdapter over Keyv over @keyv/redis),
 * under a namespace of its own that it clears when it stops.
 */
async function startApollo(app: App, schema: GraphQLSchema, redisUrl: string | null): Promise<Listening> {
  const keyv = redisUrl ? new Keyv<string>({ store: new KeyvRedis(redisUrl), namespace: `recall-bench-apollo-${randomBytes(4).toString('hex')}` }) : null;
  // The answers are one user's: cached per session (the user), never shared across users.
  const privateAnswers: ApolloServerPlugin<RequestContext> = {
    async requestDidStart() {
      return {
        async executionDidStart({ overallCachePolicy }) {
          overallCachePolicy.restrict({ scope: 'PRIVATE' });
        },
      };
    },
  };
  const server = new ApolloServer<RequestContext>({
    schema,
    // One keyv, typed twice (its ESM and CJS declarations): the adapter's is the CJS one.
    ...(keyv ? { cache: new KeyvAdapter<string>(keyv as unknown as ConstructorParameters<typeof KeyvAdapter<string>>[0]) } : {}),
    plugins: [
      ApolloServerPluginCacheControl({ defaultMaxAge: DEFAULT_MAX_AGE_SECONDS }),
      privateAnswers,
      responseCachePlugin({ sessionId: async ({ contextValue }) => contextValue.viewer?.user.id ?? null }),
    ],
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => {
      const authorization = req.headers.authorization ?? null;
      return peerContext(app, await authenticate(app, authorization), authorization);
    },
  });
  return {
    port: Number(new URL(url).port),
    close: async () => {
      await server.stop();
      await keyv?.clear();
      await keyv?.disconnect();
    },
  };
}

/** Mercurius (fastify) with graphql-jit after the first run, and mercurius-cache on the query's resolvers, per user. */
async function startMercurius(app: App, schema: GraphQLSchema): Promise<Listening> {
  const fastify = Fastify({ logger: false });
  await fastify.register(mercurius, {
    schema,
    jit: 1,
    path: '/graphql',
    context: async (request) => {
      const authorization = request.headers.authorization ?? null;
      return peerContext(app, await authenticate(app, authorization), authorization);
    },
  });
  // Keyed by user, parent id and arguments: mercurius-cache's default key serializes the whole
  // parent object and the selection for each of the page's 42 cached resolver calls.
  const perUser = {
    key: ({ self, arg, ctx }: { self: { id?: string } | undefined; arg: unknown; ctx: RequestContext }) => `${ctx.viewer?.user.id}|${self?.id ?? ''}|${JSON.stringify(arg)}`,
  };
  // A CommonJS module whose types declare a default export: fastify-plugin sets `.default` too.
  await fastify.register(mercuriusCache.default, {
    ttl: DEFAULT_MAX_AGE_SECONDS,
    policy: {
      Query: { context: perUser },
      Context: { memories: perUser },
      Memory: { context: perUser, relevance: perUser },
    },
  });
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  return { port: (fastify.server.address() as AddressInfo).port, close: () => fastify.close() };
}
