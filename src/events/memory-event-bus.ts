import type { Logger } from 'pino';
import type { EventBus, Replay } from './event-bus.js';
import { compareEventIds, createEventIdGenerator } from './event-ids.js';
import type { EventMetrics } from './event-metrics.js';
import { createFanOut } from './fan-out.js';
import type { RecallEvent } from './recall-event.js';

export interface MemoryEventBusOptions {
  /** Events kept for replay. */
  maxLength: number;
  now: () => number;
  source: string;
  metrics: EventMetrics;
  logger: Logger;
}

/** The event bus of a single instance (REDIS_URL unset): the same contract, kept in process. */
export function createMemoryEventBus(options: MemoryEventBusOptions): EventBus {
  const fanOut = createFanOut((error) => options.logger.error({ err: error }, 'an event listener failed'));
  const nextId = createEventIdGenerator(options.now);
  const kept: RecallEvent[] = [];

  return {
    mode: 'memory',
    source: options.source,
    async publish(bodies) {
      for (const body of bodies) {
        const event = { ...body, id: nextId() };
        kept.push(event);
        if (kept.length > options.maxLength) kept.shift();
        options.metrics.published.inc({ kind: body.kind, reach: 'local' });
        fanOut.emit(event);
      }
    },
    listen: fanOut.listen,
    async readAfter(id, limit): Promise<Replay> {
      // As in the stream: complete only while the client's own event is still kept.
      const own = kept.findIndex((event) => event.id === id);
      const after = kept.filter((event) => compareEventIds(event.id, id) > 0);
      return { events: after.slice(0, limit), complete: own !== -1 && after.length <= limit };
    },
    async forgetOwner(ownerId) {
      const others = kept.filter((event) => event.ownerId !== ownerId);
      kept.splice(0, kept.length, ...others);
    },
    close: async () => undefined,
  };
}
