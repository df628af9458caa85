import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { lengthRequired, payloadTooLarge, type Refusal } from '../admission/refusal.js';
import type { Config } from '../config.js';
import { csrfRefusal } from './csrf-prevention.js';
import { applyHeaderPolicy, type AllowedOrigins } from './header-policy.js';
import { refusalReply } from './reply.js';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpServerOptions {
  /** Largest accepted body, in bytes (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Most sockets open at once, WebSockets and SSE streams included (MAX_CONNECTIONS). */
  maxConnections: number;
  /** Time to receive a whole request, headers and body, in ms (REQUEST_BODY_TIMEOUT_MS). */
  requestTimeoutMs: number;
  /** Origins that may call from a browser (CORS_ORIGINS). */
  allowedOrigins: AllowedOrigins;
}

/** The server's options as the configuration sets them. */
export function httpServerOptions(config: Config): HttpServerOptions {
  return {
    maxBodyBytes: config.MAX_BODY_BYTES,
    maxConnections: config.MAX_CONNECTIONS,
    requestTimeoutMs: config.REQUEST_BODY_TIMEOUT_MS,
    allowedOrigins: config.CORS_ORIGINS,
  };
}

/**
 * The node:http front of the app. Every reply gets the one header policy (CORS, Vary) here,
 * before any handler writes it. It refuses a POST any web page could have forged (the CSRF rule)
 * and oversized bodies before anyone reads them: a body
 * must declare its length (node's parser then reads no more than that), and the length must fit.
 * A request that has not fully arrived in time gets node's 408 and its socket is closed; the
 * timeout covers receiving the request only, so SSE responses and WebSockets (no longer HTTP
 * once upgraded) may last as long as they like.
 */
export function createHttpServer(handle: RequestListener, options: HttpServerOptions): Server {
  const { maxBodyBytes, requestTimeoutMs } = options;
  const server = createServer(
    {
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      // Node looks for late requests only this often (by default every 30 s, which held a stalled
      // body for 321 s): a tenth of the timeout, so one is dropped within 1.1 times it.
      connectionsCheckingInterval: Math.min(1_000, Math.ceil(requestTimeoutMs / 10)),
    },
    (req, res) => {
      if (applyHeaderPolicy(req, res, options.allowedOrigins)) return;
      if (req.method === 'GET' && (req.url === '/' || req.url === '')) {
        res.writeHead(302, { location: '/graphql' }).end();
        return;
      }
      const refusal = bodyRefusal(req, maxBodyBytes) ?? csrfRefusal({ method: req.method, header: (name) => requestHeader(req, name) });
      if (refusal) {
        const reply = refusalReply(refusal, req.headers.accept);
        // The unread body would corrupt the next request on a kept-alive connection.
        res.writeHead(reply.status, { ...reply.headers, connection: 'close' }).end(reply.body);
        return;
      }
      handle(req, res);
    },
  );
  server.maxConnections = options.maxConnections;
  return server;
}

/** A header of a node request as one string (repeated ones joined), or null. */
export function requestHeader(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? null);
}

function bodyRefusal(req: IncomingMessage, maxBodyBytes: number): Refusal | null {
  const hasBody = req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
  if (!hasBody) return null;
  const declared = Number(req.headers['content-length']);
  if (req.headers['content-length'] === undefined || !Number.isFinite(declared)) return lengthRequired();
  return declared > maxBodyBytes ? payloadTooLarge(declared, maxBodyBytes) : null;
}
