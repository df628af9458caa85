import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';

export interface RequestLoggerOptions {
  logger: Logger;
}

/** One info line per request: operation, status and duration; never headers or variables. */
export function useRequestLogger({ logger }: RequestLoggerOptions): Plugin {
  const started = new WeakMap<Request, { at: number; operationName?: string | undefined }>();
  return {
    onRequest({ request }) {
      started.set(request, { at: performance.now() });
    },
    onParams({ params, request }) {
      const entry = started.get(request);
      if (entry) entry.operationName = params.operationName;
    },
    onResponse({ request, response }) {
      const entry = started.get(request);
      if (!entry) return;
      logger.info(
        {
          method: request.method,
          path: new URL(request.url).pathname,
          operationName: entry.operationName,
          status: response.status,
          durationMs: Math.round((performance.now() - entry.at) * 100) / 100,
        },
        'request',
      );
    },
  };
}
