import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Logger } from 'pino';

/**
 * Stops accepting connections, lets in-flight requests finish, and resolves once the server has
 * closed. Connections still busy after `timeoutMs` are cut so that shutdown always ends.
 */
export async function drainServer(server: Server, timeoutMs: number, logger: Logger): Promise<void> {
  const closed = once(server, 'close');
  server.close();
  // A kept-alive connection turns idle when its last request ends; close it then, rather than
  // waiting out the keep-alive timeout.
  server.closeIdleConnections();
  const idle = setInterval(() => server.closeIdleConnections(), 50);
  const force = setTimeout(() => {
    logger.warn({ timeoutMs }, 'drain timed out: closing the remaining connections');
    server.closeAllConnections();
  }, timeoutMs);
  try {
    await closed;
  } finally {
    clearInterval(idle);
    clearTimeout(force);
  }
}
