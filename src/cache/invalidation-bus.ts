import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { CacheMetrics } from './cache-metrics.js';
import type { CacheEntityRecord } from './response-store.js';
import type { CacheWrite } from './store.js';

/** What a write made stale: entity entries, and the cached responses that contain entities. */
export interface Invalidations {
  writes: CacheWrite[];
  responses: CacheEntityRecord[];
}

interface Message extends Invalidations {
  from: string;
  id: string;
}

export interface InvalidationBusOptions {
  publisher: Redis;
  subscriber: Redis;
  channel: string;
  /** Distinguishes this instance's own messages. */
  instanceId: string;
  /** Applies another instance's invalidations to this instance's L1. */
  onRemote(invalidations: Invalidations): Promise<void>;
  /** Called when listening (re)starts, as messages may have been missed: L1 must be dropped. */
  onResync(): void;
  /** How long `publish` waits to see its own message come back. */
  echoTimeoutMs: number;
  metrics: CacheMetrics;
  logger: Logger;
}

/**
 * Tells every instance which L1 entries a write made stale, over Redis pub/sub. `publish`
 * resolves once its own message has come back (Redis has then handed it to every subscriber),
 * or after a short timeout; it never throws. `isListening` is false whenever messages could be
 * missed (before the subscription is confirmed, and from a disconnect until it is again); the
 * L1 must not answer then, and is dropped whenever listening starts.
 */
export function createInvalidationBus(options: InvalidationBusOptions) {
  const echoes = new Map<string, () => void>();
  let listening = false;

  // On every (re)connection: subscribe, then trust the L1 again from an empty start.
  options.subscriber.on('ready', () => {
    options.subscriber.subscribe(options.channel).then(
      () => {
        options.onResync();
        listening = true;
      },
      (error: unknown) => options.logger.warn({ err: error }, 'could not subscribe to invalidations'),
    );
  });
  options.subscriber.on('close', () => {
    listening = false;
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
    options.onRemote({ writes: message.writes ?? [], responses: message.responses ?? [] }).catch((error: unknown) => {
      options.logger.error({ err: error }, 'could not apply a remote invalidation');
    });
  });
  return {
    isListening: () => listening,
    async publish({ writes, responses }: Invalidations): Promise<void> {
      if (writes.length === 0 && responses.length === 0) return;
      const id = randomUUID();
      let timer: NodeJS.Timeout | undefined;
      const echoed = new Promise<void>((resolve) => {
        echoes.set(id, resolve);
        timer = setTimeout(resolve, options.echoTimeoutMs);
      });
      try {
        const message: Message = { from: options.instanceId, id, writes, responses };
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
