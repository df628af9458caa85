import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { systemClock, type Clock } from '../clock.js';
import type { Config } from '../config.js';
import { createCacheKeys } from '../cache/keys.js';
import { createRedisClient } from '../cache/redis-client.js';
import type { EventBus } from './event-bus.js';
import { createEventMetrics, type EventMetrics } from './event-metrics.js';
import { createMemoryEventBus } from './memory-event-bus.js';
import { createRedisEventBus } from './redis-event-bus.js';

export interface Events {
  bus: EventBus;
  metrics: EventMetrics;
  /** The open subscription streams of this instance. */
  streams: Set<unknown>;
}

/** The event bus of this deployment: shared through Redis when REDIS_URL is set, else in process. */
export function createEvents(config: Config, registry: Registry, logger: Logger, clock: Clock = systemClock): Events {
  const log = logger.child({ component: 'events' });
  const metrics = createEventMetrics(registry);
  const common = {
    maxLength: config.EVENT_STREAM_MAX_LENGTH,
    now: () => clock.now().getTime(),
    // Unique per process, and readable in an event: which host and process made the change.
    source: `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`,
    metrics,
    logger: log,
  };
  if (!config.REDIS_URL) return { bus: createMemoryEventBus(common), metrics, streams: new Set() };
  const client = (name: string, offlineQueue: boolean) =>
    createRedisClient({ url: config.REDIS_URL!, name, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, logger: log, offlineQueue });
  const bus = createRedisEventBus({
    ...common,
    publisher: client('events', false),
    reader: client('event-reader', true),
    streamKey: createCacheKeys(config.REDIS_KEY_PREFIX).eventStream,
  });
  return { bus, metrics, streams: new Set() };
}
