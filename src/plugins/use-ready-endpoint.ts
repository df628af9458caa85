import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { checkReadiness } from '../observability/readiness.js';

export interface ReadyEndpointOptions {
  db: Database;
  logger: Logger;
  /** Default: /ready. */
  path?: string;
}

/** GET /ready: 200 when the database answers and its migrations are applied, 503 (saying why) otherwise. */
export function useReadyEndpoint({ db, logger, path = '/ready' }: ReadyEndpointOptions): Plugin {
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== path || request.method !== 'GET') return;
      const readiness = await checkReadiness(db, logger);
      endResponse(
        fetchAPI.Response.json(readiness, {
          status: readiness.status === 'ready' ? 200 : 503,
          headers: { 'cache-control': 'no-store' },
        }),
      );
    },
  };
}
