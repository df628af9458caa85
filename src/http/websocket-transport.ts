import type { Server } from 'node:http';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { rememberAdmission, type AdmissionControl } from '../admission/admission.js';
import { connectionCredential } from './connection-credential.js';
import { LAST_EVENT_ID_HEADER } from '../events/event-ids.js';
import type { RequestContext, ServerContext } from '../graphql-context.js';
import { refusalError, withoutHttp } from './reply.js';

/** The origin of the requests made for operations over a WebSocket (they come from no URL of their own). */
export const WEBSOCKET_ORIGIN = 'http://websocket.invalid';

type Enveloped = ReturnType<YogaServerInstance<ServerContext, RequestContext>['getEnveloped']>;
type OperationRoot = Pick<Enveloped, 'execute' | 'subscribe'>;

type ConnectionExtra = {
  authorization?: string | null;
};

export interface WebSocketTransportOptions {
  admission: AdmissionControl;
  maxPayloadBytes: number;
  keepAliveMs: number;
}

/** Operations over WebSocket do not go through the response cache (yoga's HTTP phase does not run for them). */
const overWebSocket = new WeakSet<Request>();

export const isWebSocketOperation = (request: Request): boolean => overWebSocket.has(request);

/**
 * GraphQL over WebSocket (the graphql-ws protocol) on the HTTP server's port and path. Every
 * operation is admitted like an HTTP request (the same module: its session checked again, its
 * budget spent, the same refusal) and goes through yoga's envelop, so it gets the same plugins
 * (limits, errors) as one sent over HTTP.
 */
export function serveGraphQLOverWebSocket(
  server: Server,
  yoga: YogaServerInstance<ServerContext, RequestContext>,
  options: WebSocketTransportOptions,
): { close(): Promise<void> } {
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: options.maxPayloadBytes });
  const graphqlWs = useServer<Record<string, unknown>, ConnectionExtra>(
    {
      execute: (args) => (args.rootValue as OperationRoot).execute(args),
      subscribe: (args) => (args.rootValue as OperationRoot).subscribe(args),
      async onConnect(ctx) {
        const credential = connectionCredential(ctx.connectionParams, ctx.extra.request.headers.authorization);
        if (credential.problem !== undefined) return forbid(ctx.extra.socket, credential.problem);
        // Refused like a bad token over HTTP, through the same admission: the socket closes with 4403.
        const identified = await options.admission.identify(credential.authorization);
        if ('refusal' in identified) return forbid(ctx.extra.socket, identified.refusal.message);
        ctx.extra.authorization = credential.authorization;
        return true;
      },
      async onSubscribe(ctx, _id, payload) {
        const upgrade = ctx.extra.request;
        const forwardedFor = upgrade.headers['x-forwarded-for'];
        const admission = await options.admission.admit(
          {
            authorization: ctx.extra.authorization ?? null,
            forwardedFor: Array.isArray(forwardedFor) ? forwardedFor.join(',') : (forwardedFor ?? null),
            socketAddress: upgrade.socket.remoteAddress,
          },
          options.admission.prepare(payload),
        );
        // Returned (not thrown), a refusal ends this operation and the socket stays open.
        if (admission.refusal) return [refusalError(admission.refusal)];
        const lastEventId = payload.extensions?.['lastEventId'];
        // POST: yoga refuses mutations from any other method.
        const request = new Request(new URL(yoga.graphqlEndpoint, WEBSOCKET_ORIGIN), {
          method: 'POST',
          headers: {
            ...(ctx.extra.authorization ? { authorization: ctx.extra.authorization } : {}),
            ...(typeof lastEventId === 'string' ? { [LAST_EVENT_ID_HEADER]: lastEventId } : {}),
          },
        });
        overWebSocket.add(request);
        const operation = { request, params: payload, req: upgrade };
        rememberAdmission(operation, admission.admitted);
        const enveloped = yoga.getEnveloped(operation);
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
      // Errors that set an HTTP status (UNAUTHENTICATED, a subscription over its cap) say so in
      // extensions.http; over the socket, as over SSE, clients get them without it.
      onNext: (_ctx, _id, _payload, _args, result) => (result.errors ? { ...result, errors: result.errors.map(withoutHttp) } : undefined),
    },
    sockets,
    options.keepAliveMs,
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

/** Closes a connection with 4403 Forbidden and why (graphql-ws's own close, on `false`, says only "Forbidden"). */
function forbid(socket: WebSocket, reason: string): false {
  socket.close(4403, closeReason(reason));
  return false;
}

/** A close frame's reason holds at most 123 bytes (RFC 6455); `ws` throws on a longer one. */
function closeReason(reason: string): string {
  const bytes = Buffer.from(reason);
  return bytes.length <= 123 ? reason : `${bytes.subarray(0, 120).toString('utf8').replace(/\uFFFD$/, '')}...`;
}
