import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { parseWithDates, stringifyWithDates } from '../json-dates.js';
import type { EventBus, Replay } from './event-bus.js';
import { createEventIdGenerator } from './event-ids.js';
import type { EventMetrics } from './event-metrics.js';
import { createFanOut } from './fan-out.js';
import type { RecallEvent, RecallEventBody } from './recall-event.js';

export interface RedisEventBusOptions {
  /** Fails fast while Redis is away: publishing must not hold a mutation up. */
  publisher: Redis;
  /** A connection of its own for the blocking XREAD, which waits out reconnections. */
  reader: Redis;
  streamKey: string;
  /** Approximate cap of the stream (XADD MAXLEN ~). */
  maxLength: number;
  now: () => number;
  source: string;
  metrics: EventMetrics;
  logger: Logger;
}

type StreamEntry = [id: string, fields: string[]];

const BLOCK_MS = 5_000;
const READ_BATCH = 500;
const RETRY_MS = 500;

/**
 * Events go to one capped Redis Stream; every instance follows the stream with a blocking
 * XREAD and hands each entry to its subscribers. Following the stream, rather than pub/sub,
 * means an instance that loses its connection picks up where it left off, and the same
 * stream is what reconnecting clients are replayed from.
 */
export function createRedisEventBus(options: RedisEventBusOptions): EventBus {
  const { publisher, reader, streamKey } = options;
  const log = options.logger;
  const fanOut = createFanOut((error) => log.error({ err: error }, 'an event listener failed'));
  const localId = createEventIdGenerator(options.now);
  let closed = false;

  async function follow(): Promise<void> {
    let lastId: string | null = null;
    while (!closed) {
      try {
        // Start after the newest entry: earlier events belong to clients that will ask for a replay.
        lastId ??= (await reader.xrevrange(streamKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
        const reply = (await reader.xread('COUNT', READ_BATCH, 'BLOCK', BLOCK_MS, 'STREAMS', streamKey, lastId)) as
          | Array<[key: string, entries: StreamEntry[]]>
          | null;
        for (const entry of reply?.[0]?.[1] ?? []) {
          lastId = entry[0];
          const event = decode(entry);
          if (event) fanOut.emit(event);
          else log.warn({ id: entry[0] }, 'skipping a malformed event');
        }
      } catch (error) {
        if (closed) return;
        log.debug({ err: error }, 'could not read events; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }
  void follow();

  return {
    mode: 'redis',
    source: options.source,
    async publish(bodies) {
      if (bodies.length === 0) return;
      const pipeline = publisher.pipeline();
      for (const body of bodies) {
        pipeline.xadd(streamKey, 'MAXLEN', '~', options.maxLength, '*', 'e', stringifyWithDates(body));
      }
      const failed = await pipeline.exec().then(
        (results) => results?.some(([error]) => error) ?? true,
        () => true,
      );
      for (const body of bodies) options.metrics.published.inc({ kind: body.kind, reach: failed ? 'local' : 'shared' });
      if (!failed) return;
      // Redis is away: other instances miss these, but this instance's subscribers need not.
      log.warn({ events: bodies.length }, 'could not publish events to Redis; delivered on this instance only');
      for (const body of bodies) fanOut.emit({ ...body, id: localId() });
    },
    listen: fanOut.listen,
    async readAfter(id, limit): Promise<Replay> {
      // The client's own event still kept means nothing after it was trimmed (trimming takes the
      // oldest first); gone, it may have been trimmed with others, or the stream was reset.
      const [own, entries] = await Promise.all([
        publisher.xrange(streamKey, id, id) as Promise<StreamEntry[]>,
        publisher.xrange(streamKey, `(${id}`, '+', 'COUNT', limit + 1) as Promise<StreamEntry[]>,
      ]);
      const events = entries.slice(0, limit).flatMap((entry) => decode(entry) ?? []);
      return { events, complete: own.length > 0 && entries.length <= limit };
    },
    async forgetOwner(ownerId) {
      try {
        let from = '-';
        for (;;) {
          const entries = (await publisher.xrange(streamKey, from, '+', 'COUNT', READ_BATCH)) as StreamEntry[];
          const theirs = entries.filter((entry) => decode(entry)?.ownerId === ownerId).map(([id]) => id);
          if (theirs.length > 0) await publisher.xdel(streamKey, ...theirs);
          if (entries.length < READ_BATCH) return;
          from = `(${entries.at(-1)![0]}`;
        }
      } catch (error) {
        log.warn({ err: error }, "could not drop a deleted user's events from the stream; they leave as it is trimmed");
      }
    },
    async close() {
      // A read waiting for a Redis that never came back may never settle; the loop ends on its own.
      closed = true;
      reader.disconnect();
      publisher.disconnect();
    },
  };
}

function decode([id, fields]: StreamEntry): RecallEvent | null {
  const at = fields.indexOf('e');
  const json = at === -1 ? undefined : fields[at + 1];
  if (json === undefined) return null;
  try {
    return { ...parseWithDates<RecallEventBody>(json), id };
  } catch {
    return null;
  }
}

