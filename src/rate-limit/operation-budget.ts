import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { CacheKeys } from '../cache/keys.js';
import { createRedisClient } from '../cache/redis-client.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Tier } from '../domain/enums.js';
import { usedInWindow, windowPosition } from './sliding-window.js';

const SPEND_BUDGET = readFileSync(new URL('./scripts/spend-budget-3.lua', import.meta.url), 'utf8');

/** Who spends the budget: a user with their tier, or an anonymous caller by address. */
export type Spender = { userId: string; tier: Tier } | { ip: string };

export interface BudgetDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the budget has room again (when refused) or the window turns. */
  resetSeconds: number;
}

/** The invalidation log as Redis had it when the budget was spent (see cache/invalidation-log.ts). */
export interface LogSeen {
  generation: string;
  position: number;
}

export interface Spent {
  /** Null for callers without a budget (admins). */
  decision: BudgetDecision | null;
  /** Null without Redis, or when Redis did not answer. */
  log: LogSeen | null;
}

export interface OperationBudget {
  /**
   * Counts one operation of `spender` (every request counts, cache hits included); with null,
   * counts nothing. Either way, in the same round trip, reads the invalidation log.
   */
  spend(spender: Spender | null): Promise<Spent>;
}

interface BudgetStore {
  /** [allowed, used after this operation (or before, when refused), the log as seen]; limit 0 counts nothing. */
  spend(identity: string, limit: number, windowMs: number, nowMs: number): Promise<[boolean, number, LogSeen | null]>;
}

/** Counters in this process: the whole store without Redis, and the fallback while Redis is away. */
export function createMemoryBudgetStore(): BudgetStore {
  const counts = new Map<string, number>();
  let swept = 0;
  return {
    async spend(identity, limit, windowMs, nowMs) {
      if (limit === 0) return [true, 0, null];
      const { index, previousWeight } = windowPosition(nowMs, windowMs);
      if (index > swept + 1) {
        // Counts older than the previous window no longer matter.
        for (const name of counts.keys()) if (Number(name.slice(name.lastIndexOf(':') + 1)) < index - 1) counts.delete(name);
        swept = index;
      }
      const currentKey = `${identity}:${index}`;
      const current = counts.get(currentKey) ?? 0;
      const used = usedInWindow(counts.get(`${identity}:${index - 1}`) ?? 0, current, previousWeight);
      if (used >= limit) return [false, used, null];
      counts.set(currentKey, current + 1);
      return [true, used + 1, null];
    },
  };
}

/** Exact across instances: one atomic script call per operation, which also reads the log. */
export function createRedisBudgetStore(client: Redis, keys: CacheKeys): BudgetStore {
  client.defineCommand('spendBudget', { numberOfKeys: 3, lua: SPEND_BUDGET });
  const spendBudget = (client as unknown as {
    spendBudget(current: string, previous: string, log: string, limit: number, windowMs: number, weight: number): Promise<[number, number, string, number]>;
  }).spendBudget.bind(client);
  return {
    async spend(identity, limit, windowMs, nowMs) {
      const { index, previousWeight } = windowPosition(nowMs, windowMs);
      const [allowed, used, generation, position] = await spendBudget(
        keys.budget(identity, index),
        keys.budget(identity, index - 1),
        keys.log,
        limit,
        windowMs,
        previousWeight,
      );
      return [allowed === 1, used, { generation: String(generation), position: Number(position) }];
    },
  };
}

export interface OperationBudgetOptions {
  config: Config;
  keys: CacheKeys;
  clock: Clock;
  registry: Registry;
  logger: Logger;
}

/**
 * The per-tier operation budget (FREE and PRO per minute; anonymous callers by address, with
 * the FREE budget). With Redis the count is shared by every instance; when Redis fails, this
 * instance's own counters take over, so limits still hold per instance (fail open, within bounds).
 */
export function createOperationBudget(options: OperationBudgetOptions): OperationBudget & { close(): Promise<void> } {
  const { config, clock } = options;
  const windowMs = config.RATE_LIMIT_WINDOW_SECONDS * 1000;
  const local = createMemoryBudgetStore();
  const redis = config.REDIS_URL
    ? createRedisClient({
        url: config.REDIS_URL,
        name: 'budget',
        commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
        autoPipelining: true,
        logger: options.logger.child({ component: 'budget' }),
      })
    : null;
  const shared = redis ? createRedisBudgetStore(redis, options.keys) : null;
  const rejected = new Counter({
    name: 'recall_operation_budget_rejections_total',
    help: 'Operations refused with 429 because the caller spent its budget, by tier.',
    labelNames: ['tier'] as const,
    registers: [options.registry],
  });
  const limits: Record<Tier, number> = { FREE: config.RATE_LIMIT_FREE_PER_WINDOW, PRO: config.RATE_LIMIT_PRO_PER_WINDOW };

  return {
    async spend(spender) {
      const tier: Tier = spender && 'tier' in spender ? spender.tier : 'FREE';
      const identity = spender === null ? 'unlimited' : 'userId' in spender ? `user:${spender.userId}` : `ip:${spender.ip}`;
      const limit = spender === null ? 0 : limits[tier];
      const now = clock.now().getTime();
      const [allowed, used, log] = shared
        ? await shared.spend(identity, limit, windowMs, now).catch((error: unknown) => {
            options.logger.debug({ err: error }, 'operation budget: Redis failed; counting in this process');
            return local.spend(identity, limit, windowMs, now);
          })
        : await local.spend(identity, limit, windowMs, now);
      if (spender === null) return { decision: null, log };
      if (!allowed) rejected.inc({ tier });
      const { endsAt } = windowPosition(now, windowMs);
      const decision = {
        allowed,
        limit,
        remaining: Math.max(0, limit - used),
        resetSeconds: Math.max(1, Math.ceil((endsAt - now) / 1000)),
      };
      return { decision, log };
    },
    async close() {
      redis?.disconnect();
    },
  };
}
