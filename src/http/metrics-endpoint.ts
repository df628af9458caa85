import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';

export interface MetricsEndpointOptions {
  registry: Registry;
  logger: Logger;
  /** Bearer token a scrape must present (METRICS_TOKEN). Default: none, open to whoever reaches the port. */
  token?: string | undefined;
  /** Default: /metrics. */
  path?: string;
}

/** Answers one request if it is for the metrics; returns whether it did. */
export type MetricsEndpoint = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * GET /metrics in Prometheus's text format. With a token, only `Authorization: Bearer <token>`
 * gets them (401 otherwise): the two are compared by their SHA-256 digests in constant time, so
 * neither the token's bytes nor its length show in the timing.
 */
export function createMetricsEndpoint({ registry, logger, token, path = '/metrics' }: MetricsEndpointOptions): MetricsEndpoint {
  const expected = token === undefined ? null : digest(`Bearer ${token}`);
  return (req, res) => {
    // The path alone, without parsing the URL (a malformed one is for the next handler to refuse).
    if (req.method !== 'GET' || (req.url ?? '').split('?', 1)[0] !== path) return false;
    if (expected && !timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="metrics"', 'content-type': 'text/plain', 'cache-control': 'no-store' });
      res.end('A bearer token (METRICS_TOKEN) is required.\n');
      return true;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(body),
      (error: unknown) => {
        logger.error({ err: error }, 'collecting the metrics failed');
        res.writeHead(500, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('Collecting the metrics failed; the log says why.\n');
      },
    );
    return true;
  };
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Where /metrics is served (see docs/decisions.md, issue 12): on its own port when METRICS_PORT
 * is set; otherwise on the main port, except in production without a METRICS_TOKEN, where it is
 * not served at all (the main port is public, and the metrics tell of load and traffic).
 */
export function metricsPlacement(config: Pick<Config, 'NODE_ENV' | 'METRICS_PORT' | 'METRICS_TOKEN'>): 'own-port' | 'main-port' | 'off' {
  if (config.METRICS_PORT !== undefined) return 'own-port';
  if (config.NODE_ENV === 'production' && config.METRICS_TOKEN === undefined) return 'off';
  return 'main-port';
}
