import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CacheKeys } from '../cache/keys.js';
import { createRedisClient, firstConnection } from '../cache/redis-client.js';
import type { Clock } from '../clock.js';
import type { Tier } from '../domain/enums.js';
import { createHotCounter, type BoundCounter } from '../observability/bound-labels.js';
import { createMemoryLimitStore } from './memory-limit-store.js';
import { createRedisLimitStore } from './redis-limit-store.js';
import { windowPosition } from './sliding-window.js';

/** Who spends the budget: a user with their tier, or an anonymous caller by address. */
export type Spender = { userId: string; tier: Tier } | { ip: string };

/** The budget's answer for one operation, in cost points. */
export interface BudgetDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Points the operation costs (it spent them when allowed). */
  cost: number;
  /** Seconds until the budget has room again (when refused) or the window turns. */
  resetSeconds: number;
  /** The prefix of the API key that spent it (from its user's budget); absent for sessions and anonymous callers. */
  apiKey?: string;
}

/** The invalidation log as Redis had it when the limits were decided (see cache/invalidation-log.ts). */
export interface LogSeen {
  generation: string;
  position: number;
}

/** One field limit a group of calls counts against: whose count (`user:<id>`, `ip:<address>`), which limit, its size and window. */
export interface LimitCount {
  identity: string;
  /** The limit and, when it has identity arguments, their values' hash: `Mutation.login:0:<hash>`. */
  name: string;
  max: number;
  windowMs: number;
}

/** A field limit's count in a store: its key, size and window. */
export interface LimitKey {
  key: string;
  max: number;
  windowMs: number;
}

/** Calls of one rate-limited field that share counts, and the limits they count against. */
export interface CallsWanted {
  /** The field's schema coordinate (a metric label). */
  field: string;
  count: number;
  limits: LimitCount[];
}

export interface Grant {
  granted: number;
  /** Seconds until a refused call would have room (0 when every call was granted). */
  retryAfterSeconds: number;
}

export interface SpendRequest {
  /** Null: no budget (admins, who also skip field limits). */
  spender: Spender | null;
  points: number;
  calls: CallsWanted[];
  /** When every call is refused, refuse the operation and spend nothing (nothing of it would run). */
  refuseWhenAllRefused: boolean;
}

export interface Spent {
  /** Null for callers without a budget (admins). */
  decision: BudgetDecision | null;
  /** Per group of calls, in the order asked. */
  grants: Grant[];
  /** Every call was refused, and the request asked for that to refuse the operation: nothing was spent. */
  refusedByLimits: boolean;
  /** Null without Redis, or when Redis did not answer. */
  log: LogSeen | null;
}

/** What a store decides: the script's answer, in TypeScript. */
export interface LimitDecision {
  budgetAllowed: boolean;
  used: number;
  log: LogSeen | null;
  refusedByLimits: boolean;
  /** The budget's counts in its current and previous fixed windows, before this operation. */
  windows: { current: number; previous: number };
  grants: Array<{ granted: number; waitMs: number }>;
}

/** What a store is asked: the budget's keys and numbers, the field limits, and the groups of calls. */
export interface LimitQuery {
  budgetKeys: [current: string, previous: string];
  budgetLimit: number;
  budgetWindowMs: number;
  previousWeight: number;
  points: number;
  nowMs: number;
  /** Unique to this operation: names the calls it adds to the sliding logs. */
  operationId: string;
  refuseWhenAllRefused: boolean;
  limits: LimitKey[];
  /** Per group: calls wanted and the indexes of its limits in `limits`. */
  groups: Array<{ count: number; limits: number[] }>;
}

export interface LimitStore {
  decide(query: LimitQuery): Promise<LimitDecision>;
  /** Calls counted now under each key (for `viewer.rateLimits`), and the budget used. */
  peek(budgetKeys: [string, string], previousWeight: number, limits: LimitKey[], nowMs: number): Promise<{ used: number; counts: number[] }>;
  /** Forgets every count under a key prefix. */
  reset(prefix: string): Promise<void>;
}

export interface RateLimiterOptions {
  redisUrl: string | undefined;
  redisCommandTimeoutMs: number;
  /** Length of the budget's sliding window, in ms. */
  windowMs: number;
  /** Budget points per window, by tier (anonymous callers have FREE's, per address). */
  budgets: Record<Tier, number>;
  /** Most counts kept in process (the whole store without Redis, the fallback with it). */
  maxLocalKeys?: number;
  keys: CacheKeys;
  clock: Clock;
  registry: Registry;
  logger: Logger;
}

/**
 * How long until an operation of `points` fits a sliding-window budget that refused it: the
 * previous window's share shrinks as time passes, and at the turn the current count becomes
 * the previous one. (`usedInWindow` floors the previous share: `floor(p × w) ≤ k` once `w` is
 * below `(k + 1) / p`.)
 */
export function budgetWaitMs(windows: { current: number; previous: number }, points: number, limit: number, windowMs: number, nowMs: number): number {
  const { endsAt } = windowPosition(nowMs, windowMs);
  const room = limit - points;
  if (room < 0) return endsAt + windowMs - nowMs;
  const at =
    windows.current <= room
      ? endsAt - (windowMs * (room - windows.current + 1)) / Math.max(1, windows.previous)
      : endsAt + windowMs * (1 - (room + 1) / windows.current);
  // The bound is strict: the first whole millisecond past it.
  return Math.max(1, Math.floor(at) + 1 - nowMs);
}

/** The budget's key identity of a spender. */
export const spenderIdentity = (spender: Spender): string => ('userId' in spender ? `user:${spender.userId}` : `ip:${spender.ip}`);

/**
 * The operation budget per tier (spent in cost points) and the field limits, decided together in
 * one atomic step. With Redis the counts are shared by every instance; when Redis fails, this
 * instance's own counts take over, so limits still hold per instance (fail open, within bounds).
 */
export function createRateLimiter(options: RateLimiterOptions) {
  const { clock, windowMs, keys } = options;
  const local = createMemoryLimitStore({ maxKeys: options.maxLocalKeys ?? 100_000 });
  const redis = options.redisUrl
    ? createRedisClient({
        url: options.redisUrl,
        name: 'limits',
        commandTimeoutMs: options.redisCommandTimeoutMs,
        logger: options.logger.child({ component: 'limits' }),
      })
    : null;
  const shared = redis ? createRedisLimitStore(redis, keys, { commandTimeoutMs: options.redisCommandTimeoutMs }) : null;
  const connected = redis ? firstConnection(redis, options.redisCommandTimeoutMs) : null;
  const rejected = createHotCounter({
    name: 'recall_rate_limit_rejections_total',
    help: 'Operations and field calls refused by a rate limit, by limit (the budget of a tier, or a field).',
    labelNames: ['limit'] as const,
    registers: [options.registry],
  });
  const decisions = createHotCounter({
    name: 'recall_rate_limit_decisions_total',
    help: 'Rate-limit decisions by limit (the budget of a tier, or a field) and result (allowed, refused): one per operation against its budget, one per call of a limited field.',
    labelNames: ['limit', 'result'] as const,
    registers: [options.registry],
  });

  // Bound once per limit (a tier's budget, or a field: as many as the schema has), as every operation counts one.
  const counters = new Map<string, { allowed: BoundCounter; refused: BoundCounter; rejected: BoundCounter }>();
  const countersOf = (limit: string) => {
    let bound = counters.get(limit);
    if (!bound) {
      bound = { allowed: decisions.bind({ limit, result: 'allowed' }), refused: decisions.bind({ limit, result: 'refused' }), rejected: rejected.bind({ limit }) };
      counters.set(limit, bound);
    }
    return bound;
  };

  async function withFallback<T>(what: string, use: (store: LimitStore) => Promise<T>): Promise<T> {
    if (!shared) return use(local);
    try {
      await connected?.();
      return await use(shared);
    } catch (error) {
      options.logger.debug({ err: error }, `rate limits: Redis failed to ${what}; counting in this process`);
      return use(local);
    }
  }

  const budgetKeysOf = (identity: string, index: number): [string, string] => [keys.budget(identity, index), keys.budget(identity, index - 1)];
  const keyOf = (count: LimitCount): LimitKey => ({ key: keys.rate(count.identity, count.name), max: count.max, windowMs: count.windowMs });

  return {
    async spend(request: SpendRequest): Promise<Spent> {
      const { spender } = request;
      const tier: Tier = spender && 'tier' in spender ? spender.tier : 'FREE';
      const identity = spender === null ? 'unlimited' : spenderIdentity(spender);
      const limit = spender === null ? 0 : options.budgets[tier];
      const now = clock.now().getTime();
      const { index, previousWeight, endsAt } = windowPosition(now, windowMs);
      const limits: LimitKey[] = [];
      const positions = new Map<string, number>();
      const groups = request.calls.map((call) => ({
        count: call.count,
        limits: call.limits.map((count) => {
          const key = keyOf(count);
          let at = positions.get(key.key);
          if (at === undefined) {
            at = limits.push(key) - 1;
            positions.set(key.key, at);
          }
          return at;
        }),
      }));
      const decided = await withFallback('decide', (store) =>
        store.decide({
          budgetKeys: budgetKeysOf(identity, index),
          budgetLimit: limit,
          budgetWindowMs: windowMs,
          previousWeight,
          points: request.points,
          nowMs: now,
          // Names the calls it adds to the sliding logs: only operations with limited calls need one.
          operationId: groups.length > 0 ? randomUUID() : '',
          refuseWhenAllRefused: request.refuseWhenAllRefused,
          limits,
          groups,
        }),
      );
      const grants = decided.grants.map(({ granted, waitMs }) => ({ granted, retryAfterSeconds: waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : 0 }));
      // Counted per unit decided: an operation against its budget, each call of a limited field.
      const decide = (limit: string, allowed: number, refused: number) => {
        const bound = countersOf(limit);
        if (allowed > 0) bound.allowed.inc(allowed);
        if (refused > 0) {
          bound.refused.inc(refused);
          bound.rejected.inc();
        }
      };
      if (spender !== null || !decided.budgetAllowed) decide(`budget:${tier}`, decided.budgetAllowed ? 1 : 0, decided.budgetAllowed ? 0 : 1);
      if (decided.budgetAllowed) {
        for (const [i, call] of request.calls.entries()) decide(call.field, Math.min(grants[i]!.granted, call.count), Math.max(0, call.count - grants[i]!.granted));
      }
      const decision =
        spender === null
          ? null
          : {
              allowed: decided.budgetAllowed,
              limit,
              remaining: Math.max(0, limit - decided.used),
              cost: request.points,
              resetSeconds: Math.max(1, Math.ceil((decided.budgetAllowed ? endsAt - now : budgetWaitMs(decided.windows, request.points, limit, windowMs, now)) / 1000)),
            };
      return { decision, grants, refusedByLimits: decided.refusedByLimits, log: decided.log };
    },

    /** The budget left to a spender, and the calls counted under each of its limit keys (read only). */
    async peek(spender: Spender, limits: LimitCount[]): Promise<{ remaining: number; limit: number; resetSeconds: number; counts: number[] }> {
      const tier: Tier = 'tier' in spender ? spender.tier : 'FREE';
      const now = clock.now().getTime();
      const { index, previousWeight, endsAt } = windowPosition(now, windowMs);
      const seen = await withFallback('peek', (store) => store.peek(budgetKeysOf(spenderIdentity(spender), index), previousWeight, limits.map(keyOf), now));
      const limit = options.budgets[tier];
      return { remaining: Math.max(0, limit - seen.used), limit, resetSeconds: Math.max(1, Math.ceil((endsAt - now) / 1000)), counts: seen.counts };
    },

    /** Forgets the counts of one identity's field (every identity-argument value of it), or, with `field` null, all its counts and its budget. */
    async reset(identity: string, field: string | null): Promise<void> {
      const prefixes = field === null ? [keys.rate(identity, ''), keys.budget(identity, '')] : [keys.rate(identity, `${field}:`)];
      // A reset sent while the connection is still being made (the CLI's, just started) must reach Redis.
      await connected?.();
      for (const prefix of prefixes) await Promise.all([local.reset(prefix), shared?.reset(prefix)]);
    },

    async close() {
      redis?.disconnect();
    },
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
