import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { CacheKeys } from '../cache/keys.js';
import { unlinkUnder } from '../cache/redis-client.js';
import type { LimitStore } from './rate-limiter.js';

const SPEND = readFileSync(new URL('./scripts/spend-n.lua', import.meta.url), 'utf8');

/** Exact across instances: one atomic script call per operation, which also reads the log. */
export function createRedisLimitStore(client: Redis, keys: CacheKeys): LimitStore {
  client.defineCommand('spendLimits', { lua: SPEND });
  const spend = (client as unknown as { spendLimits(numberOfKeys: number, ...args: Array<string | number>): Promise<Array<string | number>> }).spendLimits.bind(client);
  return {
    async decide(query) {
      const args: Array<string | number> = [
        query.budgetKeys[0],
        query.budgetKeys[1],
        keys.log,
        ...query.limits.map((limit) => limit.key),
        query.budgetLimit,
        query.budgetWindowMs,
        query.previousWeight,
        query.points,
        query.nowMs,
        query.operationId,
        query.refuseWhenAllRefused ? 1 : 0,
        query.limits.length,
        ...query.limits.flatMap((limit) => [limit.max, limit.windowMs]),
        query.groups.length,
        ...query.groups.flatMap((group) => [group.count, group.limits.length, ...group.limits.map((index) => index + 1)]),
      ];
      const reply = await spend(3 + query.limits.length, ...args);
      const grants = [];
      for (let at = 7; at < reply.length; at += 2) grants.push({ granted: Number(reply[at]), waitMs: Number(reply[at + 1]) });
      return {
        budgetAllowed: Number(reply[0]) === 1,
        used: Number(reply[1]),
        log: { generation: String(reply[2]), position: Number(reply[3]) },
        refusedByLimits: Number(reply[4]) === 1,
        windows: { current: Number(reply[5]), previous: Number(reply[6]) },
        grants,
      };
    },
    async peek(budgetKeys, previousWeight, limits, nowMs) {
      const pipeline = client.pipeline().mget(budgetKeys[0], budgetKeys[1]);
      for (const limit of limits) pipeline.zcount(limit.key, `(${nowMs - limit.windowMs}`, '+inf');
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0];
      const [current, previous] = (replies[0]![1] as Array<string | null>).map(Number);
      return {
        used: Math.floor((previous ?? 0) * previousWeight) + (current ?? 0),
        counts: replies.slice(1).map(([, count]) => Number(count)),
      };
    },
    async reset(prefix) {
      await unlinkUnder(client, prefix);
    },
  };
}
