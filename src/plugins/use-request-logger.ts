import type { Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import { admissionOf } from '../admission/admission.js';
import type { ServerContext } from '../graphql-context.js';
import { logRequest } from '../http/access-log.js';

export interface RequestLoggerOptions {
  logger: Logger;
}

/** The access log of requests yoga answers (the cached-hit front logs its own, the same way). */
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
    onResponse({ request, response, serverContext }) {
      const entry = started.get(request);
      if (!entry) return;
      // A lone operation's admission is its server context's (or, from the cached-hit front, its node request's).
      const server = serverContext as ServerContext;
      const admitted = admissionOf(server) ?? (server.req && admissionOf(server.req));
      logRequest(logger, {
        method: request.method,
        path: new URL(request.url).pathname,
        operationName: entry.operationName,
        status: response.status,
        startedAt: entry.at,
        apiKey: admitted?.viewer?.apiKey?.prefix,
      });
    },
  };
}
