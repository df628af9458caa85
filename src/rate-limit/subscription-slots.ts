import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { GraphQLError } from 'graphql';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { CacheKeys } from '../cache/keys.js';
import { createRedisClient, firstConnection } from '../cache/redis-client.js';
import type { Clock } from '../clock.js';
import { clientError } from '../errors.js';

const TAKE_SLOT = readFileSync(new URL('./scripts/take-subscription-slot-1.lua', import.meta.url), 'utf8');

/** Whose slots a subscription takes: a user's, or an anonymous caller's address's. */
export type Subscriber = { userId: string } | { ip: string };

/** Gives a slot back; calling it again does nothing. */
export type ReleaseSlot = () => void;

export interface SubscriptionSlots {
  /**
   * Takes one of `subscriber`'s slots (null: not capped) for a subscription about to open, or
   * throws RATE_LIMITED when the caller holds the cap already. Release the slot when the
   * subscription ends, however it ends.
   */
  take(subscriber: Subscriber | null): Promise<ReleaseSlot>;
}

export interface SubscriptionSlotsOptions {
  /** Slots per caller (MAX_SUBSCRIPTIONS_PER_USER). */
  max: number;
  /** How long a slot outlives an instance that stops renewing it, in ms (SUBSCRIPTION_LEASE_SECONDS). */
  leaseMs: number;
  /** Where slots are counted across instances; null (no REDIS_URL): in this process only. */
  redis: { url: string; commandTimeoutMs: number } | null;
  keys: CacheKeys;
  clock: Clock;
  registry: Registry;
  logger: Logger;
}

/**
 * Caps the concurrent subscriptions of each caller. With Redis, every instance counts in one
 * sorted set per caller, through one atomic script, so the cap is exact under concurrency; each
 * instance renews the leases of the slots it holds every third of a lease (one pipeline for all)
 * and gives a slot back as soon as its subscription ends. The lease is only for liveness: the
 * slots of an instance that crashed come back when their leases run out. When Redis fails, this
 * instance counts the slots it holds itself, so the cap still holds per instance (no error, no
 * wait beyond the command timeout); its renewals put those slots in Redis once it answers again.
 */
export function createSubscriptionSlots(options: SubscriptionSlotsOptions): SubscriptionSlots & { close(): Promise<void> } {
  const { max, leaseMs, keys, clock } = options;
  const logger = options.logger.child({ component: 'subscription-slots' });
  // Members are unique across instances and restarts of one.
  const instance = randomBytes(6).toString('hex');
  let taken = 0;
  /** This instance's slots, by caller key: what it renews, and what it counts while Redis fails. */
  const held = new Map<string, Set<string>>();
  const refused = new Counter({
    name: 'recall_subscriptions_refused_total',
    help: 'Subscriptions refused with RATE_LIMITED because their caller held MAX_SUBSCRIPTIONS_PER_USER already, by where it was counted: shared (Redis) or local (this process).',
    labelNames: ['counted'] as const,
    registers: [options.registry],
  });
  const redis = options.redis
    ? createRedisClient({ url: options.redis.url, name: 'subscriptions', commandTimeoutMs: options.redis.commandTimeoutMs, logger })
    : null;
  const takeShared = redis ? defineTakeSlot(redis) : null;
  const connected = redis && options.redis ? firstConnection(redis, options.redis.commandTimeoutMs) : null;
  const releasing = new Set<Promise<unknown>>();
  let renewing = false;
  const renewal = redis ? setInterval(() => void renew(redis), leaseMs / 3) : null;
  renewal?.unref();

  function holdLocally(key: string, member: string, checkCap: boolean): boolean {
    const slots = held.get(key) ?? new Set<string>();
    if (checkCap && slots.size >= max) return false;
    held.set(key, slots.add(member));
    return true;
  }

  async function renew(client: Redis): Promise<void> {
    if (renewing || held.size === 0) return;
    renewing = true;
    const expiry = clock.now().getTime() + leaseMs;
    const pipeline = client.pipeline();
    for (const [key, members] of held) {
      // ZADD, not ZADD XX: it also restores a slot taken while Redis failed, or dropped as expired.
      pipeline.zadd(key, ...[...members].flatMap((member) => [expiry, member]));
      pipeline.pexpire(key, leaseMs);
    }
    try {
      const failed = (await pipeline.exec())?.find(([error]) => error)?.[0];
      if (failed) throw failed;
    } catch (error) {
      logger.debug({ err: error }, 'could not renew the subscription leases; the next renewal tries again');
    } finally {
      renewing = false;
    }
  }

  function release(key: string, member: string): ReleaseSlot {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const slots = held.get(key);
      slots?.delete(member);
      if (slots?.size === 0) held.delete(key);
      if (!redis) return;
      const removal = redis
        .zrem(key, member)
        .catch((error: unknown) => logger.debug({ err: error }, 'could not give a subscription slot back; its lease will run out'))
        .finally(() => releasing.delete(removal));
      releasing.add(removal);
    };
  }

  return {
    async take(subscriber) {
      if (!subscriber) return () => undefined;
      const key = keys.subscriptions('userId' in subscriber ? `user:${subscriber.userId}` : `ip:${subscriber.ip}`);
      const member = `${instance}:${++taken}`;
      let counted: 'shared' | 'local' = 'local';
      let granted: boolean;
      if (takeShared) {
        try {
          await connected?.();
          granted = await takeShared(key, clock.now().getTime(), leaseMs, max, member);
          counted = 'shared';
          if (granted) holdLocally(key, member, false);
        } catch (error) {
          logger.debug({ err: error }, 'subscription slots: Redis failed; counting in this process');
          granted = holdLocally(key, member, true);
        }
      } else {
        granted = holdLocally(key, member, true);
      }
      if (!granted) {
        refused.inc({ counted });
        throw capReached(subscriber, max);
      }
      return release(key, member);
    },
    async close() {
      if (renewal) clearInterval(renewal);
      // Slots given back at shutdown must reach Redis: their clients reconnect elsewhere at once.
      await Promise.allSettled([...releasing]);
      redis?.disconnect();
    },
  };
}

function defineTakeSlot(client: Redis) {
  client.defineCommand('takeSubscriptionSlot', { numberOfKeys: 1, lua: TAKE_SLOT });
  const takeSlot = (client as unknown as {
    takeSubscriptionSlot(key: string, nowMs: number, leaseMs: number, max: number, member: string): Promise<number>;
  }).takeSubscriptionSlot.bind(client);
  return async (key: string, nowMs: number, leaseMs: number, max: number, member: string): Promise<boolean> =>
    (await takeSlot(key, nowMs, leaseMs, max, member)) === 1;
}

/** Refused before the stream starts: yoga answers an SSE request with this status. */
function capReached(subscriber: Subscriber, max: number): GraphQLError {
  const per = 'userId' in subscriber ? 'per user' : 'per address';
  return clientError(
    'RATE_LIMITED',
    `Subscription limit reached: at most ${max} concurrent subscriptions ${per} (MAX_SUBSCRIPTIONS_PER_USER). End one to open another.`,
    { limit: max, http: { status: 429 } },
  );
}
