import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Tier } from '../__generated__/resolvers-types.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import { createRedisClient } from '../cache/redis-client.js';
import { usedInWindow, windowPosition } from './sliding-window.js';

const SLIDING_WINDOW = readFileSync(new URL('./scripts/sliding-window-2.lua', import.meta.url), 'utf8');

/** Who spends the budget: a user with their tier, or an anonymous caller by address. */
export type Spender = { userId: string; tier: Tier } | { ip: string };

export interface BudgetDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the budget has room again (when refused) or the window turns. */
  resetSeconds: number;
}

export interface OperationBudget {
  /** Counts one operation; every request counts, cache hits included. */
  spend(spender: Spender): Promise<BudgetDecision>;
}

interface BudgetStore {
  /** [allowed, used after this operation (or before, when refused)] */
  spend(key: string, limit: number, windowMs: number, nowMs: number): Promise<[boolean, number]>;
}

/** Counters in this process: the whole store without Redis, and the fallback while Redis is away. */
export function createMemoryBudgetStore(): BudgetStore {
  const counts = new Map<string, number>();
  let swept = 0;
  return {
    async spend(key, limit, windowMs, nowMs) {
      const { index, previousWeight } = windowPosition(nowMs, windowMs);
      if (index > swept + 1) {
        // Counts older than the previous window no longer matter.
        for (const name of counts.keys()) if (Number(name.slice(name.lastIndexOf(':') + 1)) < index - 1) counts.delete(name);
        swept = index;
      }
      const currentKey = `${key}:${index}`;
      const current = counts.get(currentKey) ?? 0;
      const used = usedInWindow(counts.get(`${key}:${index - 1}`) ?? 0, current, previousWeight);
      if (used >= limit) return [false, used];
      counts.set(currentKey, current + 1);
      return [true, used + 1];
    },
  };
}

/** Exact across instances: one atomic script call per operation. */
export function createRedisBudgetStore(client: Redis, prefix: string): BudgetStore {
  client.defineCommand('spendBudget', { numberOfKeys: 2, lua: SLIDING_WINDOW });
  const spendBudget = (client as unknown as {
    spendBudget(current: string, previous: string, limit: number, windowMs: number, weight: number): Promise<[number, number]>;
  }).spendBudget.bind(client);
  return {
    async spend(key, limit, windowMs, nowMs) {
      const { index, previousWeight } = windowPosition(nowMs, windowMs);
      // One hash tag per caller: both keys live in the same Cluster slot.
      const base = `${prefix}budget:{${key}}:`;
      const [allowed, used] = await spendBudget(`${base}${index}`, `${base}${index - 1}`, limit, windowMs, previousWeight);
      return [allowed === 1, used];
    },
  };
}

export interface OperationBudgetOptions {
  config: Config;
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
        logger: options.logger.child({ component: 'budget' }),
      })
    : null;
  const shared = redis ? createRedisBudgetStore(redis, config.REDIS_KEY_PREFIX) : null;
  const rejected = new Counter({
    name: 'recall_operation_budget_rejections_total',
    help: 'Operations refused with 429 because the caller spent its budget, by tier.',
    labelNames: ['tier'] as const,
    registers: [options.registry],
  });
  const limits: Record<Tier, number> = { FREE: config.RATE_LIMIT_FREE_PER_WINDOW, PRO: config.RATE_LIMIT_PRO_PER_WINDOW };

  return {
    async spend(spender) {
      const tier: Tier = 'tier' in spender ? spender.tier : 'FREE';
      const key = 'userId' in spender ? `user:${spender.userId}` : `ip:${spender.ip}`;
      const limit = limits[tier];
      const now = clock.now().getTime();
      const [allowed, used] = shared
        ? await shared.spend(key, limit, windowMs, now).catch((error: unknown) => {
            options.logger.debug({ err: error }, 'operation budget: Redis failed; counting in this process');
            return local.spend(key, limit, windowMs, now);
          })
        : await local.spend(key, limit, windowMs, now);
      if (!allowed) rejected.inc({ tier });
      const { endsAt } = windowPosition(now, windowMs);
      return {
        allowed,
        limit,
        remaining: Math.max(0, limit - used),
        resetSeconds: Math.max(1, Math.ceil((endsAt - now) / 1000)),
      };
    },
    async close() {
      redis?.disconnect();
    },
  };
}
