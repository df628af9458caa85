import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Cache } from '../cache/cache.js';
import type { Database } from '../db/database.js';
import { checkHealth } from '../observability/health.js';

export interface HealthEndpointOptions {
  db: Database;
  cache: Cache;
  logger: Logger;
  /** Default: /health. */
  path?: string;
}

/** GET /health: 200 while PostgreSQL answers ("degraded" without Redis), 503 when it does not. */
export function useHealthEndpoint({ db, cache, logger, path = '/health' }: HealthEndpointOptions): Plugin {
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== path || request.method !== 'GET') return;
      const report = await checkHealth(db, cache, logger);
      endResponse(
        fetchAPI.Response.json(report, {
          status: report.status === 'down' ? 503 : 200,
          headers: { 'cache-control': 'no-store' },
        }),
      );
    },
  };
}
