import type { Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { authenticate } from './auth/sessions.js';
import type { AppDeps, RequestContext } from './graphql-context.js';
import { clientIp } from './client-ip.js';
import { clientError } from './errors.js';
import { rememberViewer } from './plugins/use-authentication.js';
import { spenderOf } from './plugins/use-operation-budget.js';
import { containsNul, nulRefusal } from './plugins/use-nul-guard.js';
import { bypassResponseCache } from './plugins/use-recall-response-cache.js';
import type { ServerContext } from './request-context.js';
import { LAST_EVENT_ID_HEADER } from './services/subscriptions.js';

type Enveloped = ReturnType<YogaServerInstance<ServerContext, RequestContext>['getEnveloped']>;
type OperationRoot = Pick<Enveloped, 'execute' | 'subscribe'>;

type ConnectionExtra = {
  authorization?: string | null;
};

/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's port and path. Every
 * operation goes through yoga's envelop, so it gets the same plugins (limits, errors) as one
 * sent over HTTP, the response cache aside, and a context built from a request that carries the
 * connection's token: its session is checked when the socket opens and again for each operation.
 */
export function serveGraphQLOverWebSocket(
  server: Server,
  yoga: YogaServerInstance<ServerContext, RequestContext>,
  deps: AppDeps,
): { close(): Promise<void> } {
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: deps.config.MAX_BODY_BYTES });
  const graphqlWs = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      execute: (args) => (args.rootValue as OperationRoot).execute(args),
      subscribe: (args) => (args.rootValue as OperationRoot).subscribe(args),
      async onConnect(ctx) {
        const authorization = connectionAuthorization(ctx.connectionParams, ctx.extra.request.headers.authorization);
        try {
          await authenticate(deps, authorization);
        } catch (error) {
          // Refused like a bad token over HTTP: the socket closes with 4403 Forbidden.
          if (error instanceof GraphQLError) return false;
          throw error;
        }
        ctx.extra.authorization = authorization;
        return true;
      },
      async onSubscribe(ctx, _id, payload) {
        const authorization = ctx.extra.authorization ?? null;
        const lastEventId = payload.extensions?.['lastEventId'];
        // POST: yoga refuses mutations from any other method.
        const request = new Request(new URL(yoga.graphqlEndpoint, 'http://websocket.invalid'), {
          method: 'POST',
          headers: {
            ...(authorization ? { authorization } : {}),
            ...(typeof lastEventId === 'string' ? { [LAST_EVENT_ID_HEADER]: lastEventId } : {}),
          },
        });
        bypassResponseCache(request);
        let viewer;
        try {
          viewer = await authenticate(deps, authorization);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        rememberViewer(request, viewer);
        const upgrade = ctx.extra.request;
        const forwardedFor = upgrade.headers['x-forwarded-for'];
        const ip = clientIp(deps.config.TRUST_PROXY, Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor, upgrade.socket.remoteAddress);
        const spender = spenderOf(viewer, ip);
        const decision = spender ? await deps.budget.spend(spender) : null;
        if (decision && !decision.allowed) {
          return [clientError('RATE_LIMITED', `Rate limit reached: ${decision.limit} operations per window.`, { retryAfter: decision.resetSeconds })];
        }
        if (containsNul(payload.variables)) return [nulRefusal()];
        const enveloped = yoga.getEnveloped({ request, params: payload, req: ctx.extra.request });
        let document;
        try {
          document = enveloped.parse(payload.query);
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = enveloped.validate(enveloped.schema, document);
        if (errors.length > 0) return errors;
        const root: OperationRoot = { execute: enveloped.execute, subscribe: enveloped.subscribe };
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          document,
          operationName: payload.operationName ?? null,
          variableValues: payload.variables ?? null,
          contextValue: await enveloped.contextFactory(),
          rootValue: root,
        };
        return args;
      },
    },
    sockets,
    deps.config.SUBSCRIPTION_KEEPALIVE_MS,
  );
  let closing: Promise<void> | null = null;
  return {
    close() {
      // 1001 Going Away: clients reconnect, to another instance behind the load balancer.
      closing ??= Promise.resolve(graphqlWs.dispose());
      return closing;
    },
  };
}

/** The token of a connection: `authorization` in connectionParams (what browsers can send), else the upgrade header. */
function connectionAuthorization(params: Readonly<Record<string, unknown>> | undefined, header: string | undefined): string | null {
  const fromParams = params?.['authorization'] ?? params?.['Authorization'];
  if (typeof fromParams === 'string') return fromParams;
  return header ?? null;
}
