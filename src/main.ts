import { Registry } from 'prom-client';
import { createApp } from './app.js';
import { promoteConfiguredAdmin } from './auth/admins.js';
import { createCache } from './cache/cache.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { instrumentDatabase } from './db/instrumented-database.js';
import { openDatabase } from './db/open-database.js';
import { createEvents } from './events/create-events.js';
import { drainServer } from './graceful-shutdown.js';
import { createLogger } from './observability/logger.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

const config = readConfig();
const logger = createLogger(config);

process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));

const registry = new Registry();
const opened = await openDatabase(config, logger).catch((error: unknown) => {
  logger.fatal({ err: error }, 'could not open the database');
  process.exit(1);
});
const db = instrumentDatabase(opened, registry);
const cache = await createCache(config, { db, registry, logger });
const events = createEvents(config, registry, logger);
const app = createApp({ config, db, cache, events, registry, logger });
const { server, metricsServer } = app;
if (config.RECALL_ADMIN_EMAIL) await promoteConfiguredAdmin(config.RECALL_ADMIN_EMAIL, app.deps, logger);

server.on('error', (error) => {
  logger.fatal({ err: error }, `could not listen on ${config.HOST}:${config.PORT}`);
  process.exit(1);
});
server.listen(config.PORT, config.HOST, () => {
  // Counted from the process's start, so module loading (and tsx's compiling) is included.
  const seconds = process.uptime().toFixed(1);
  logger.info(
    { startupSeconds: Number(seconds) },
    `ready in ${seconds} s: Recall is serving GraphQL and GraphiQL on http://localhost:${config.PORT}/graphql`,
  );
});

if (metricsServer) {
  metricsServer.on('error', (error) => {
    logger.fatal({ err: error }, `could not listen on ${config.METRICS_HOST}:${config.METRICS_PORT}`);
    process.exit(1);
  });
  metricsServer.listen(config.METRICS_PORT, config.METRICS_HOST, () =>
    logger.info(`serving /metrics on http://${config.METRICS_HOST}:${config.METRICS_PORT}/metrics`),
  );
}

let stopping = false;
async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting without draining');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'draining in-flight requests');
  await app.endSubscriptions();
  await drainServer(server, config.SHUTDOWN_TIMEOUT_MS, logger);
  metricsServer?.close();
  await app.close();
  await events.bus.close();
  await cache.close();
  await db.close();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', (signal) => void shutdown(signal));
process.on('SIGINT', (signal) => void shutdown(signal));
