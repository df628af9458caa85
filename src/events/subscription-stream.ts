import { GraphQLError } from 'graphql';
import { clientError } from '../errors.js';
import type { EventBus } from './event-bus.js';
import type { RecallEvent } from './recall-event.js';

/** One value for a subscriber, with the id of the event it came from (the SSE event id). */
export interface Delivery<T> {
  eventId: string;
  value: T;
  /** The invalidation log position of the write it tells of: it is resolved at least there. */
  position: number | null;
}

/** The last thing a stream yields when the server ends it: resolving it raises the error. */
export class StreamEnd {
  constructor(readonly error: GraphQLError) {}
}

export interface SubscriptionStreamOptions<T> {
  bus: EventBus;
  /** Resume after this event id (Last-Event-ID): the kept events after it come first. */
  after: string | null;
  replayLimit: number;
  /** Live events queued for this subscriber beyond which it is ended as lagging. */
  queueLimit: number;
  /** What the subscriber receives for an event, or null for nothing; throw a GraphQLError to end the stream. */
  select(event: RecallEvent): Promise<T | null> | T | null;
  /** Sent first when the replay could not cover every event missed since `after`. */
  gapNotice?(): Delivery<T>;
  /** Hears what the replay of a resuming subscriber held: how many events, and whether they covered every event missed. */
  onBacklog?(replayed: number, complete: boolean): void;
  /** Called once when the stream ends, however it ends. */
  onClose?(reason: 'client' | 'lagging' | 'error'): void;
}

/**
 * A subscription's source: live events from the bus, preceded by the replay of what a
 * resuming client missed. Listening starts at once, before the replay is read, so nothing
 * falls between the two; events already replayed are skipped when they arrive live (by id, not
 * by order: ids of events that could not be shared come from this instance's clock).
 *
 * A hand-written iterator rather than an async generator: a generator waiting for the next
 * event cannot be returned from until one arrives, which would keep a disconnected client's
 * listener until then.
 */
export type SubscriptionStream<T> = AsyncIterableIterator<Delivery<T> | StreamEnd>;

export function createSubscriptionStream<T>(options: SubscriptionStreamOptions<T>): SubscriptionStream<T> {
  const live: RecallEvent[] = [];
  let backlogRead: Promise<Array<RecallEvent | Delivery<T>>> | null = null;
  // Events replayed that may also arrive live (published after listening began).
  const replayed = new Set<string>();
  let wake: (() => void) | null = null;
  let ending: StreamEnd | null = null;
  let done = false;

  const stopListening = options.bus.listen((event) => {
    if (done || ending) return;
    if (live.length >= options.queueLimit) {
      live.length = 0;
      ending = new StreamEnd(
        clientError(
          'SUBSCRIPTION_LAGGING',
          'This subscription fell too far behind and was ended; subscribe again (over SSE, with Last-Event-ID, to resume).',
        ),
      );
    } else {
      live.push(event);
    }
    wake?.();
  });

  function finish(reason: 'client' | 'lagging' | 'error') {
    if (done) return;
    done = true;
    stopListening();
    live.length = 0;
    wake?.();
    options.onClose?.(reason);
  }

  async function readBacklog(): Promise<Array<RecallEvent | Delivery<T>>> {
    if (!options.after) return [];
    const replay = await options.bus.readAfter(options.after, options.replayLimit).catch(() => null);
    const notice = replay?.complete ? [] : (options.gapNotice ? [options.gapNotice()] : []);
    for (const event of replay?.events ?? []) replayed.add(event.id);
    options.onBacklog?.(replay?.events.length ?? 0, replay?.complete ?? false);
    return [...notice, ...(replay?.events ?? [])];
  }

  const iterator: SubscriptionStream<T> = {
    [Symbol.asyncIterator]: () => iterator,
    async next() {
      const backlog = await (backlogRead ??= readBacklog());
      while (!done) {
        const fromBacklog = backlog.length > 0;
        const item = backlog.shift() ?? live.shift();
        if (!item) {
          if (ending) {
            const end = ending;
            finish('lagging');
            return { value: end, done: false };
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
          continue;
        }
        if (!('kind' in item)) return { value: item, done: false };
        if (!fromBacklog && replayed.delete(item.id)) continue;
        try {
          const value = await options.select(item);
          if (value !== null) return { value: { eventId: item.id, value, position: item.position }, done: false };
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          finish('error');
          return { value: new StreamEnd(error), done: false };
        }
      }
      return { value: undefined, done: true };
    },
    async return() {
      finish('client');
      return { value: undefined, done: true };
    },
  };
  return iterator;
}
