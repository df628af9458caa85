import { LRUCache } from 'lru-cache';
import type { LimitDecision, LimitQuery, LimitStore } from './rate-limiter.js';
import { usedInWindow } from './sliding-window.js';

/**
 * The limits counted in this process: the whole store without Redis, and the fallback while
 * Redis is away. It decides as scripts/spend-n.lua does (the Redis store's tests and this one's
 * run the same cases), and keeps at most `maxKeys` counts, forgetting the least recently used.
 */
export function createMemoryLimitStore(options: { maxKeys: number }): LimitStore {
  const budgets = new LRUCache<string, { count: number; expiresAt: number }>({ max: options.maxKeys });
  const logs = new LRUCache<string, number[]>({ max: options.maxKeys });

  const budgetCount = (key: string, now: number) => {
    const entry = budgets.get(key);
    return entry && entry.expiresAt > now ? entry.count : 0;
  };
  /** The calls a sliding log still counts at `now`, oldest first. */
  const liveLog = (key: string, windowMs: number, now: number) => {
    const log = logs.get(key) ?? [];
    while (log.length > 0 && log[0]! <= now - windowMs) log.shift();
    return log;
  };

  return {
    async decide(query: LimitQuery): Promise<LimitDecision> {
      const now = query.nowMs;
      const [currentKey, previousKey] = query.budgetKeys;
      const current = query.budgetLimit > 0 ? budgetCount(currentKey, now) : 0;
      const previous = query.budgetLimit > 0 ? budgetCount(previousKey, now) : 0;
      const windows = { current, previous };
      let used = usedInWindow(previous, current, query.previousWeight);
      if (query.budgetLimit > 0 && used + query.points > query.budgetLimit) {
        return { budgetAllowed: false, used, log: null, refusedByLimits: false, windows, grants: [] };
      }
      const live = query.limits.map((limit) => liveLog(limit.key, limit.windowMs, now));
      const room = query.limits.map((limit, i) => limit.max - live[i]!.length);
      const grants = query.groups.map((group) => {
        const granted = Math.max(0, Math.min(group.count, ...group.limits.map((i) => room[i]!)));
        let waitMs = 0;
        for (const i of group.limits) {
          room[i]! -= granted;
          if (granted < group.count && room[i]! <= 0) {
            const oldest = live[i]![0];
            waitMs = Math.max(waitMs, oldest === undefined ? query.limits[i]!.windowMs : oldest + query.limits[i]!.windowMs - now);
          }
        }
        return { granted, waitMs, group };
      });
      if (query.refuseWhenAllRefused && grants.length > 0 && grants.every((grant) => grant.granted === 0)) {
        return { budgetAllowed: true, used, log: null, refusedByLimits: true, windows, grants: grants.map(({ waitMs }) => ({ granted: 0, waitMs })) };
      }
      if (query.budgetLimit > 0) {
        const entry = budgets.get(currentKey);
        budgets.set(currentKey, { count: current + query.points, expiresAt: entry && entry.expiresAt > now ? entry.expiresAt : now + 2 * query.budgetWindowMs });
        used += query.points;
      }
      for (const { granted, group } of grants) {
        for (const i of group.limits) {
          if (granted === 0) continue;
          const log = live[i]!;
          for (let call = 0; call < granted; call += 1) log.push(now);
          logs.set(query.limits[i]!.key, log);
        }
      }
      return { budgetAllowed: true, used, log: null, refusedByLimits: false, windows, grants: grants.map(({ granted, waitMs }) => ({ granted, waitMs })) };
    },
    async peek(budgetKeys, previousWeight, limits, nowMs) {
      return {
        used: usedInWindow(budgetCount(budgetKeys[1], nowMs), budgetCount(budgetKeys[0], nowMs), previousWeight),
        counts: limits.map((limit) => liveLog(limit.key, limit.windowMs, nowMs).length),
      };
    },
    async reset(prefix) {
      for (const counts of [logs, budgets]) for (const key of [...counts.keys()]) if (key.startsWith(prefix)) counts.delete(key);
    },
  };
}
