import { TOKEN_HEADER_KEY, TOKEN_QUERY_KEY } from 'graphql-sse';
import { WEBSOCKET_ORIGIN } from './websocket-transport.js';

/** How a subscription reaches its client: an SSE response of its own, a WebSocket, or graphql-sse's single-connection stream. */
export type SubscriptionTransport = 'sse' | 'websocket' | 'sse-single';

/** The transport of the request an operation came with (see websocket-transport.ts and use-single-connection-sse.ts). */
export function subscriptionTransport(request: Request): SubscriptionTransport {
  const url = new URL(request.url);
  if (url.origin === WEBSOCKET_ORIGIN) return 'websocket';
  return request.headers.has(TOKEN_HEADER_KEY) || url.searchParams.has(TOKEN_QUERY_KEY) ? 'sse-single' : 'sse';
}
