import type { Logger } from 'pino';

export interface AccessLogEntry {
  method: string;
  path: string;
  operationName: string | undefined;
  status: number;
  /** performance.now() when the request arrived. */
  startedAt: number;
  /** Answered by the cached-hit front, before the GraphQL pipeline. */
  front?: boolean;
  /** The prefix of the API key the request was admitted with: it names the key, and reveals nothing of its secret. */
  apiKey?: string | undefined;
}

/** One info line per request, whichever path answered it: operation, status, duration and the API key's prefix; never headers, tokens or variables. */
export function logRequest(logger: Logger, entry: AccessLogEntry): void {
  // Off (the usual production setting for it is `warn`), it costs no line object on every hit.
  if (!logger.isLevelEnabled('info')) return;
  logger.info(
    {
      method: entry.method,
      path: entry.path,
      operationName: entry.operationName,
      status: entry.status,
      durationMs: Math.round((performance.now() - entry.startedAt) * 100) / 100,
      ...(entry.front ? { front: true } : {}),
      ...(entry.apiKey ? { apiKey: entry.apiKey } : {}),
    },
    'request',
  );
}
