import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Invalidation } from './invalidation.js';

export interface L1FollowerOptions {
  /** A connection of its own, in subscriber mode. */
  subscriber: Redis;
  /** The cache connection, to read the log position when listening (re)starts. */
  client: Redis;
  channel: string;
  logKey: string;
  /** Applies another (or this) instance's invalidation at `position` to the in-process tiers. */
  apply(invalidation: Invalidation, position: number): void;
  /** Empties the in-process tiers: invalidations before `position` may have been missed. */
  reset(position: number): void;
  /** The generation this instance synced with (null until it has): the only one to follow. */
  expectedGeneration(): string | null;
  /**
   * A position came again in the same generation. Positions arrive strictly increasing on this
   * one connection, so Redis's log went back (a failover that kept the connections).
   */
  onRegression(): void;
  logger: Logger;
}

/**
 * Keeps the in-process tiers in step with the invalidation log. The apply script publishes each
 * invalidation with its position and generation, in log order, so positions arrive one after
 * another: the follower applies them and knows exactly how far it is (`appliedPosition`). A
 * position or generation it did not expect means it missed something (a dropped connection, a
 * cold start): it empties the tiers and goes on from there. Until listening has started, and
 * whenever the subscription is lost, the tiers must not answer.
 */
export function createL1Follower(options: L1FollowerOptions) {
  let subscribed = false;
  let listening = false;
  let applied = 0;
  /** Where listening started: messages up to it were published before, and may still arrive. */
  let startedAt = 0;
  let generation: string | null = null;

  const startAt = (position: number, at: string | null) => {
    options.reset(position);
    applied = position;
    startedAt = position;
    generation = at;
    listening = true;
  };

  /**
   * Starts listening from the log's current position, once subscribed, synced, and Redis
   * answers with the generation this instance synced with.
   */
  async function start(): Promise<void> {
    if (!subscribed || listening) return;
    try {
      const [at, position] = await options.client.hmget(options.logKey, 'gen', 'pos');
      if (!at || at !== options.expectedGeneration() || listening) return;
      startAt(Number(position ?? 0), at);
    } catch (error) {
      // Tried again when the cache connection is back (see the invalidation log's sync).
      options.logger.debug({ err: error }, 'could not read the invalidation log position');
    }
  }

  options.subscriber.on('ready', () => {
    options.subscriber.subscribe(options.channel).then(
      () => {
        subscribed = true;
        void start();
      },
      (error: unknown) => options.logger.warn({ err: error }, 'could not subscribe to invalidations'),
    );
  });
  options.subscriber.on('close', () => {
    subscribed = false;
    listening = false;
  });
  options.subscriber.on('message', (channel: string, text: string) => {
    if (channel !== options.channel || !listening) return;
    const [head = '', at = '', ...rest] = text.split(' ');
    const position = Number(head);
    if (at === generation && position <= startedAt) return;
    if (at === generation && position <= applied) {
      // Received after a later one, on the one connection that delivers them in order.
      options.logger.warn({ applied, received: position }, "Redis's invalidation log went back: emptying the in-process tiers");
      startAt(position, at);
      options.onRegression();
      return;
    }
    if (at !== generation || position !== applied + 1) {
      options.logger.info({ expected: applied + 1, received: position }, 'invalidations were missed: emptying the in-process tiers');
      startAt(position, at);
      return;
    }
    try {
      options.apply(JSON.parse(rest.join(' ')) as Invalidation, position);
      applied = position;
    } catch (error) {
      options.logger.error({ err: error }, 'could not apply an invalidation; emptying the in-process tiers');
      startAt(position, at);
    }
  });

  return {
    /** Whether the in-process tiers hear every invalidation (they may then be filled). */
    isListening: () => listening,
    /** The log position up to which the in-process tiers have applied every invalidation. */
    appliedPosition: () => applied,
    /** The generation of that position. */
    generation: () => generation,
    start,
    /** Stops following (the tiers no longer answer) until `start` succeeds again: they hold another generation's data. */
    stop(): void {
      listening = false;
    },
  };
}

export type L1Follower = ReturnType<typeof createL1Follower>;
