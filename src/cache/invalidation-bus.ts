import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CacheMetrics } from './cache-metrics.js';
import type { CacheWrite } from './store.js';

interface Message {
  from: string;
  id: string;
  writes: CacheWrite[];
}

export interface InvalidationBusOptions {
  publisher: Redis;
  subscriber: Redis;
  channel: string;
  /** Distinguishes this instance's own messages. */
  instanceId: string;
  /** Applies another instance's invalidations to this instance's L1. */
  onRemote(writes: CacheWrite[]): Promise<void>;
  /** Called when messages may have been missed (after a reconnect): L1 must be dropped. */
  onResync(): void;
  /** How long `publish` waits to see its own message come back. */
  echoTimeoutMs: number;
  metrics: CacheMetrics;
  logger: Logger;
}

/**
 * Tells every instance which L1 entries a write made stale, over Redis pub/sub. `publish`
 * resolves once its own message has come back (Redis has then handed it to every subscriber),
 * or after a short timeout; it never throws. A subscriber that reconnects drops its whole L1,
 * since it may have missed messages meanwhile.
 */
export function createInvalidationBus(options: InvalidationBusOptions) {
  const echoes = new Map<string, () => void>();
  let connectedBefore = false;

  options.subscriber.on('ready', () => {
    if (connectedBefore) options.onResync();
    connectedBefore = true;
  });
  options.subscriber.on('message', (channel: string, text: string) => {
    if (channel !== options.channel) return;
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch (error) {
      options.logger.warn({ err: error }, 'ignoring a malformed invalidation message');
      return;
    }
    if (message.from === options.instanceId) {
      echoes.get(message.id)?.();
      return;
    }
    options.onRemote(message.writes).catch((error: unknown) => {
      options.logger.error({ err: error }, 'could not apply a remote invalidation');
    });
  });
  // Not awaited: while Redis is away the command waits in the subscriber's queue, and start-up
  // must not wait for it. ioredis subscribes again by itself after every reconnect.
  options.subscriber.subscribe(options.channel).catch((error: unknown) => {
    options.logger.warn({ err: error }, 'could not subscribe to invalidations');
  });

  return {
    async publish(writes: CacheWrite[]): Promise<void> {
      if (writes.length === 0) return;
      const id = randomUUID();
      let timer: NodeJS.Timeout | undefined;
      const echoed = new Promise<void>((resolve) => {
        echoes.set(id, resolve);
        timer = setTimeout(resolve, options.echoTimeoutMs);
      });
      try {
        const message: Message = { from: options.instanceId, id, writes };
        await options.publisher.publish(options.channel, JSON.stringify(message));
        await echoed;
      } catch (error) {
        options.metrics.errors.inc({ tier: 'redis', operation: 'publish' });
        options.logger.debug({ err: error }, 'could not publish an invalidation');
      } finally {
        clearTimeout(timer);
        echoes.delete(id);
      }
    },
  };
}

export type InvalidationBus = ReturnType<typeof createInvalidationBus>;
