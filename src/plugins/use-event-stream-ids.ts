import type { Socket } from 'node:net';
import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type FetchAPI, type Plugin } from 'graphql-yoga';
import type { GraphQLContext, ServerContext } from '../graphql-context.js';
import { withoutHttp } from '../http/reply.js';

type Identified = ExecutionResult<unknown, { eventId?: string }>;

/**
 * Event ids on subscription results: `extensions.eventId` on every result (over any transport,
 * so that a WebSocket client can resume too), and over SSE an `id:` on every event (yoga's own
 * SSE writer sends none), so that EventSource and other clients send Last-Event-ID when they
 * reconnect and are replayed what they missed. The id is the one the subscription resolver
 * records on the context while it resolves each event.
 */
export function useEventStreamIds(keepAliveMs: number): { plugin: Plugin; abortAll(): void } {
  const subscriptions = new WeakSet<Request>();
  const open = new Set<() => void>();
  const plugin: Plugin = {
    onSubscribe({ args }) {
      const ctx = args.contextValue as GraphQLContext;
      if (ctx.request) subscriptions.add(ctx.request);
      return {
        onSubscribeResult: () => ({
          onNext({ result, setResult }) {
            const eventId = ctx.delivery.eventId;
            if (eventId) setResult({ ...result, extensions: { ...result.extensions, eventId } });
          },
        }),
      };
    },
    onResultProcess({ request, result, resultProcessor, setResultProcessor, serverContext }) {
      // yoga has already chosen SSE, the one processor of subscription streams.
      if (!resultProcessor || !subscriptions.has(request) || !isAsyncIterable(result)) return;
      const socket = (serverContext as ServerContext).req?.socket;
      setResultProcessor(
        (stream, fetchAPI) => eventStreamResponse(stream as AsyncIterable<Identified>, fetchAPI, { keepAliveMs, open, socket }),
        'text/event-stream',
      );
    },
  };
  return {
    plugin,
    /**
     * Cuts every open stream, without the `complete` event, as a dropped connection: clients
     * reconnect (to another instance) and resume with Last-Event-ID.
     */
    abortAll() {
      for (const abort of [...open]) abort();
    },
  };
}

interface StreamOptions {
  keepAliveMs: number;
  /** Where the stream registers how to abort it. */
  open: Set<() => void>;
  /** The connection it is sent on (absent for in-process `yoga.fetch` calls). */
  socket: Socket | undefined;
}

function eventStreamResponse(results: AsyncIterable<Identified>, fetchAPI: FetchAPI, options: StreamOptions): Response {
  const { keepAliveMs, open, socket } = options;
  const encoder = new fetchAPI.TextEncoder();
  let iterator: AsyncIterator<Identified>;
  let keepAlive: NodeJS.Timeout | undefined;
  let abort: () => void = () => undefined;
  const stop = () => {
    clearInterval(keepAlive);
    open.delete(abort);
  };
  const body = new fetchAPI.ReadableStream<Uint8Array>({
    start(controller) {
      abort = () => {
        stop();
        void iterator.return?.();
        // An errored body does not end the HTTP response; only dropping the connection does.
        if (socket) socket.destroy();
        else controller.error(new Error('The server is shutting down.'));
      };
      open.add(abort);
      // A comment at once, so that proxies and browsers see the stream open before any event.
      controller.enqueue(encoder.encode(':\n\n'));
      keepAlive = setInterval(() => {
        if (controller.desiredSize === null) clearInterval(keepAlive);
        else if (controller.desiredSize > 0) controller.enqueue(encoder.encode(':\n\n'));
      }, keepAliveMs);
      iterator = results[Symbol.asyncIterator]();
    },
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (value) controller.enqueue(encoder.encode(nextEvent(value)));
      if (done) {
        stop();
        controller.enqueue(encoder.encode('event: complete\ndata:\n\n'));
        controller.close();
      }
    },
    async cancel() {
      stop();
      await iterator.return?.();
    },
  });
  return new fetchAPI.Response(body, {
    status: 200,
    headers: { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'Content-Encoding': 'none' },
  });
}

function nextEvent(result: Identified): string {
  const id = result.extensions?.eventId;
  const { data, errors, extensions } = result;
  const payload = JSON.stringify({ data, errors: errors?.map(withoutHttp), ...(extensions ? { extensions } : {}) });
  return `${id ? `id: ${id}\n` : ''}event: next\ndata: ${payload}\n\n`;
}
