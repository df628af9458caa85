import type { AddressInfo } from 'node:net';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestApp } from './test-app.js';

/** Starts the app's HTTP server (and so its WebSocket endpoint) on a free port; returns the GraphQL URL. */
export async function listen(t: TestApp): Promise<string> {
  const { server } = t.app;
  if (!server.listening) await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

/** Waits until `condition` holds, polling; fails after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves when the app holds a subscription stream it did not hold when this was called. */
export function newStream(t: TestApp): Promise<void> {
  const known = new Set(t.events.streams);
  return until(() => [...t.events.streams].some((stream) => !known.has(stream)));
}

/**
 * Collects what a subscription yields. `opened` resolves once the server holds the stream
 * (so that events published afterwards reach it).
 */
export interface Subscription<T = any> {
  next(timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

function collect<T>(iterator: AsyncIterableIterator<T>): Subscription<T> {
  return {
    async next(timeoutMs = 5_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const { value, done } = await Promise.race([iterator.next(), timeout]);
        if (done) throw new Error('the subscription completed');
        return value;
      } finally {
        clearTimeout(timer);
      }
    },
    async close() {
      await iterator.return?.();
    },
  };
}

/** Subscribes with the graphql-sse client (distinct connections mode, what yoga serves). */
export async function subscribeOverSse(
  t: TestApp,
  url: string,
  token: string | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Subscription> {
  const client = createSseClient({ url, headers: token ? { authorization: `Bearer ${token}` } : {}, retryAttempts: 0 });
  const opened = newStream(t);
  const subscription = collect(client.iterate({ query, variables }));
  await opened;
  return {
    next: subscription.next,
    async close() {
      await subscription.close();
      client.dispose();
    },
  };
}

export function webSocketClient(url: string, token: string | null, options: { lazy?: boolean } = {}): WsClient {
  return createWsClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: options.lazy ?? true,
  });
}

/** Subscribes over graphql-ws; `t` is the app that will hold the stream. */
export async function subscribeOverWebSocket(
  t: TestApp,
  client: WsClient,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Subscription> {
  const opened = newStream(t);
  const subscription = collect(client.iterate({ query, variables }));
  await opened;
  return subscription;
}

/** One operation over graphql-ws (a query or mutation). */
export async function overWebSocket(client: WsClient, query: string, variables: Record<string, unknown> = {}) {
  const iterator = client.iterate({ query, variables });
  const { value } = await iterator.next();
  await iterator.return?.();
  return value as { data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> };
}

export interface RawEvent {
  id: string | null;
  event: string;
  data: string;
}

/**
 * A bare SSE reader, as EventSource is: it sees the `id:` of each event and sends
 * Last-Event-ID when asked to.
 */
export async function openEventStream(
  url: string,
  options: { token: string; query: string; variables?: Record<string, unknown>; lastEventId?: string },
) {
  const controller = new AbortController();
  const response = await fetch(url, {
    method: 'POST',
    signal: controller.signal,
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      authorization: `Bearer ${options.token}`,
      ...(options.lastEventId ? { 'last-event-id': options.lastEventId } : {}),
    },
    body: JSON.stringify({ query: options.query, variables: options.variables ?? {} }),
  });
  // Made on the first read: a refusal is a JSON body, for `response.json()`.
  let events: ReadableStreamDefaultReader<string> | undefined;
  const reader = () => (events ??= response.body!.pipeThrough(new TextDecoderStream()).getReader());
  let buffer = '';
  return {
    response,
    async next(timeoutMs = 5_000): Promise<RawEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split('\n').filter((line) => !line.startsWith(':') && line !== '');
          if (lines.length === 0) continue; // a keep-alive comment
          const field = (name: string) => lines.find((line) => line.startsWith(`${name}:`))?.slice(name.length + 1).trim() ?? null;
          return { id: field('id'), event: field('event') ?? 'message', data: field('data') ?? '' };
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`no SSE event within ${timeoutMs} ms`);
        let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([
          reader().read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no SSE event within ${timeoutMs} ms`)), remaining);
          }),
        ]).finally(() => clearTimeout(timer));
        if (chunk.done) throw new Error('the event stream ended');
        buffer += chunk.value;
      }
    },
    close() {
      controller.abort();
    },
  };
}
