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
}

/** One info line per request, whichever path answered it: operation, status and duration; never headers or variables. */
export function logRequest(logger: Logger, entry: AccessLogEntry): void {
  logger.info(
    {
      method: entry.method,
      path: entry.path,
      operationName: entry.operationName,
      status: entry.status,
      durationMs: Math.round((performance.now() - entry.startedAt) * 100) / 100,
      ...(entry.front ? { front: true } : {}),
    },
    'request',
  );
}
