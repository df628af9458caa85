import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY, type Request as SseRequest, type Response as SseResponse } from 'graphql-sse';
import { GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin, type YogaServer } from 'graphql-yoga';
import type { Logger } from 'pino';
import { rememberAdmission, type AdmissionControl } from '../admission/admission.js';
import type { OperationParams } from '../admission/operation-document.js';
import { badInput, conflict, forbidden, unauthenticated, type Refusal } from '../admission/refusal.js';
import type { GraphQLContext, ServerContext } from '../graphql-context.js';
import { refusalReply, withoutHttp } from '../http/reply.js';

export interface SingleConnectionSseOptions {
  admission: AdmissionControl;
  logger: Logger;
  /** Where the stream is served. Default: `/graphql/stream` (the plugin's own). */
  endpoint?: string;
  /** Where distinct-connection streams are served (named in the refusal of a request without a token). Default: `/graphql`. */
  graphqlEndpoint?: string;
  /** How long a reservation waits for its stream to open before it is dropped, in ms. Default: 30 s. */
  reservationTtlMs?: number;
}

interface Reservation {
  /** Who made it: the user id, or null for an anonymous caller. Operations must come from them. */
  userId: string | null;
  /** What it was made with: the stream is refused once this no longer authenticates. */
  authorization: string | null;
  /** Set once its stream is open: cuts the stream's connection. */
  cut: (() => void) | null;
  expiry: NodeJS.Timeout | undefined;
}

/**
 * graphql-sse's single-connection mode (`@graphql-yoga/plugin-graphql-sse`), for clients such as
 * a browser's EventSource that cannot send headers on the stream. A client reserves a stream with
 * PUT (with its Authorization; admitted like an operation of one point), gets a token, opens the
 * stream with GET `?token=` and no headers, then sends operations with POST and the token in
 * X-GraphQL-Event-Stream-Token: their results arrive on the stream.
 *
 * The token is the bearer credential of the stream, and of nothing else: 32 random bytes, made
 * here (a token the client proposes is refused), good for one stream, dropped with it (or after
 * `reservationTtlMs` if the stream never opens). Opening the stream needs the token only (a
 * header, if sent, must be the same user's), and the reservation's own credential must still be
 * good. Every operation is admitted with its own Authorization, through the one admission (its
 * cost spent, the same refusals), and must come from the user who made the reservation: a token
 * alone never runs anything as anyone, and another user holding it gets 403. Subscriptions take
 * their caller's slots, as on every transport.
 */
export function useSingleConnectionSse(options: SingleConnectionSseOptions): { plugins: Plugin[]; endAll(): void } {
  const { admission, logger, endpoint = '/graphql/stream', graphqlEndpoint = '/graphql', reservationTtlMs = 30_000 } = options;
  const reservations = new Map<string, Reservation>();
  const sockets = new WeakMap<Request, Socket>();
  /** Streams opened here, not by a client, to make graphql-sse drop a reservation that was never used. */
  const releases = new WeakSet<Request>();
  let yoga: YogaServer<Record<string, unknown>, Record<string, unknown>> | null = null;
  /** Operations sent to a stream. */
  const streamed = new WeakSet<Request>();

  const reply = (refusal: Refusal, accept: string | null): SseResponse => {
    const { status, headers, body } = refusalReply(refusal, accept === 'text/event-stream' ? null : accept);
    return [body, { status, statusText: '', headers }];
  };

  const requestOf = (req: SseRequest<Request>, raw: Request) => ({
    authorization: header(req, 'authorization'),
    forwardedFor: header(req, 'x-forwarded-for'),
    socketAddress: sockets.get(raw)?.remoteAddress,
  });

  /**
   * graphql-sse keeps a reservation until its stream ends, and offers no other way to drop one:
   * open its stream here, through the plugin's own request hook, and cancel it at once.
   */
  function release(token: string): void {
    const reservation = reservations.get(token);
    if (!reservation) return;
    clearTimeout(reservation.expiry);
    reservations.delete(token);
    const request = new Request(`http://localhost${endpoint}?${TOKEN_QUERY_KEY}=${encodeURIComponent(token)}`, {
      headers: { accept: 'text/event-stream' },
    });
    releases.add(request);
    const endResponse = (response: Response) => void response.body?.cancel();
    void Promise.resolve(sse.onRequest?.({ request, serverContext: {}, endResponse } as never)).catch((error: unknown) =>
      logger.error({ err: error }, 'could not drop an unused event stream reservation'),
    );
  }

  async function reserve(req: SseRequest<Request>, raw: Request, proposed: string | null): Promise<SseResponse | string> {
    const accept = header(req, 'accept');
    if (proposed) return reply(badInput('A reservation takes no token: the server makes one and answers it.'), accept);
    // One point, like an operation that does not parse: a reservation is cheap, but not free.
    const admitted = await admission.admit(requestOf(req, raw), admission.prepare(null));
    if (admitted.refusal) return reply(admitted.refusal, accept);
    const token = randomBytes(32).toString('base64url');
    reservations.set(token, {
      userId: admitted.admitted.viewer?.user.id ?? null,
      authorization: header(req, 'authorization'),
      cut: null,
      expiry: setTimeout(() => release(token), reservationTtlMs).unref(),
    });
    return token;
  }

  /** The user of the request's own Authorization must be the reservation's. */
  function owner(reservation: Reservation, userId: string | null): Refusal | null {
    return userId === reservation.userId ? null : forbidden('This event stream was reserved by another user: reserve your own with PUT.');
  }

  async function connect(req: SseRequest<Request>, raw: Request, token: string, reservation: Reservation): Promise<SseResponse | string> {
    if (reservation.cut) return reply(conflict('This event stream is open already: one stream per reservation.'), null);
    if (header(req, 'authorization')) {
      const caller = await admission.identify(header(req, 'authorization'));
      const refusal = 'refusal' in caller ? caller.refusal : owner(reservation, caller.viewer?.user.id ?? null);
      if (refusal) return reply(refusal, null);
    }
    const maker = await admission.identify(reservation.authorization);
    if ('refusal' in maker) {
      release(token);
      return reply(maker.refusal, null);
    }
    clearTimeout(reservation.expiry);
    const socket = sockets.get(raw);
    reservation.cut = () => socket?.destroy();
    // graphql-sse ends the stream (and its operations) when its connection closes; so does the reservation.
    raw.signal.addEventListener('abort', () => reservations.delete(token), { once: true });
    return token;
  }

  async function admitOperation(req: SseRequest<Request>, raw: Request, reservation: Reservation): Promise<SseResponse | string> {
    const accept = header(req, 'accept');
    const params = await paramsOf(raw);
    const admitted = await admission.admit(requestOf(req, raw), admission.prepare(params));
    if (admitted.refusal) return reply(admitted.refusal, accept);
    const refusal = owner(reservation, admitted.admitted.viewer?.user.id ?? null);
    if (refusal) return reply(refusal, accept);
    // Before validating: what validation allows (introspection) may depend on the viewer.
    rememberAdmission(raw, admitted.admitted);
    const invalid = params?.query ? documentErrors(raw, params.query) : null;
    if (invalid) {
      const body = JSON.stringify({ errors: invalid.map(withoutHttp) });
      return [body, { status: 400, statusText: '', headers: { 'content-type': 'application/json; charset=utf-8' } }];
    }
    streamed.add(raw);
    return tokenOf(req)!;
  }

  /**
   * Why a document cannot run, as yoga's parser and validation (with its plugins' rules) say:
   * checked here because the graphql-sse plugin hands graphql-sse a `{ errors }` it does not
   * recognise, which it answers with "Unable to detect operation AST" in place of the errors.
   */
  function documentErrors(raw: Request, query: string): readonly GraphQLError[] | null {
    if (!yoga) return null;
    const enveloped = yoga.getEnveloped({ request: raw });
    try {
      const errors = enveloped.validate(enveloped.schema, enveloped.parse(query));
      return errors.length > 0 ? errors : null;
    } catch (error) {
      if (error instanceof GraphQLError) return [error];
      throw error;
    }
  }

  const sse = useGraphQLSSE({
    endpoint,
    async authenticate(req) {
      const raw = req.raw as Request;
      const token = tokenOf(req);
      if (releases.has(raw)) return token;
      if (req.method === 'PUT') return reserve(req, raw, token);
      const accept = header(req, 'accept');
      if (!token) {
        return reply(
          unauthenticated(`No event stream token: reserve a stream with PUT ${endpoint} first; for one stream per subscription, use ${graphqlEndpoint}.`),
          accept,
        );
      }
      const reservation = reservations.get(token);
      if (!reservation) return reply(unauthenticated('The event stream token is unknown, or its stream has ended: reserve a new one with PUT.'), accept);
      if (accept === 'text/event-stream') return connect(req, raw, token, reservation);
      if (!reservation.cut) return reply(conflict('Open the event stream (GET with the token) before sending operations to it.'), accept);
      if (req.method === 'DELETE') {
        const caller = await admission.identify(header(req, 'authorization'));
        const refusal = 'refusal' in caller ? caller.refusal : owner(reservation, caller.viewer?.user.id ?? null);
        return refusal ? reply(refusal, accept) : token;
      }
      return admitOperation(req, raw, reservation);
    },
    // As over WebSocket: extensions.http sets a plain HTTP reply's status; it is not for clients.
    onNext: (_ctx, _req, result) => (result.errors ? ({ ...result, errors: result.errors.map(withoutHttp) } as unknown as typeof result) : undefined),
  });

  const plugins: Plugin[] = [
    {
      onYogaInit({ yoga: server }) {
        yoga = server;
      },
      onSubscribe({ args }) {
        const { request } = args.contextValue as GraphQLContext;
        if (!streamed.has(request)) return;
        return {
          // The plugin hands graphql-sse what subscribe returned; graphql-sse takes a result
          // without \`data\` for arguments, and answers "Unable to detect operation AST" in place
          // of the error (over the cap, not signed in). With \`data: null\` it streams the error.
          onSubscribeResult({ result, setResult }) {
            if (!isAsyncIterable(result) && !('data' in result)) setResult({ data: null, ...result });
          },
        };
      },
      onRequest({ request, serverContext }) {
        const socket = (serverContext as ServerContext).req?.socket;
        if (socket) sockets.set(request, socket);
      },
    },
    sse as Plugin,
  ];
  return {
    plugins,
    /** Cuts every open stream (clients reserve again, elsewhere) and drops the reservations not yet used. */
    endAll() {
      for (const [token, reservation] of [...reservations]) {
        if (reservation.cut) reservation.cut();
        else release(token);
      }
    },
  };
}

function tokenOf(req: SseRequest<Request>): string | null {
  return header(req, TOKEN_HEADER_KEY) || new URL(req.url, 'http://localhost').searchParams.get(TOKEN_QUERY_KEY) || null;
}

/** The operation of a request, as graphql-sse will read it (null when it cannot: admitted as one point, and graphql-sse refuses it). */
async function paramsOf(raw: Request): Promise<OperationParams | null> {
  try {
    const source: unknown =
      raw.method === 'GET'
        ? Object.fromEntries(new URL(raw.url).searchParams)
        : raw.headers.get('content-type')?.includes('application/json')
          ? await raw.clone().json()
          : null;
    if (typeof source !== 'object' || source === null) return null;
    const { query, variables, operationName } = source as Record<string, unknown>;
    return {
      query: typeof query === 'string' ? query : undefined,
      variables: typeof variables === 'string' ? JSON.parse(variables) : variables,
      operationName: typeof operationName === 'string' ? operationName : undefined,
    } as OperationParams;
  } catch {
    // Not JSON: graphql-sse reads it the same way and answers 400 before anything runs.
    return null;
  }
}

function header(req: SseRequest<Request>, name: string): string | null {
  return req.headers.get(name) ?? null;
}
