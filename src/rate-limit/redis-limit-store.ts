import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import type { CacheKeys } from '../cache/keys.js';
import { unlinkUnder } from '../cache/redis-client.js';
import { createSerialBatcher } from '../serial-batcher.js';
import type { LimitDecision, LimitQuery, LimitStore } from './rate-limiter.js';

const SPEND = readFileSync(new URL('./scripts/spend-n.lua', import.meta.url), 'utf8');

/** Most operations one script call decides: a bound on how long it holds Redis. */
const MAX_BATCH = 256;

/**
 * Exact across instances: each operation is decided whole by an atomic script, which also reads
 * the log. Concurrent operations share a call (one in flight; those that arrive meanwhile go
 * together as the next), and the script decides them in arrival order, each seeing what the ones
 * before it spent, so a batch decides exactly what as many calls in a row would.
 */
export function createRedisLimitStore(client: Redis, keys: CacheKeys, options: { commandTimeoutMs: number }): LimitStore {
  client.defineCommand('spendLimits', { lua: SPEND });
  const spend = (client as unknown as { spendLimits(numberOfKeys: number, ...args: Array<string | number>): Promise<Array<string | number>> }).spendLimits.bind(client);
  const decide = createSerialBatcher(async (queries: LimitQuery[]): Promise<LimitDecision[]> => {
    const keyArgs: string[] = [keys.log];
    const args: Array<string | number> = [queries.length];
    for (const query of queries) {
      keyArgs.push(query.budgetKeys[0], query.budgetKeys[1]);
      for (const limit of query.limits) keyArgs.push(limit.key);
      args.push(
        query.budgetLimit,
        query.budgetWindowMs,
        query.previousWeight,
        query.points,
        query.nowMs,
        query.operationId,
        query.refuseWhenAllRefused ? 1 : 0,
        query.limits.length,
      );
      for (const limit of query.limits) args.push(limit.max, limit.windowMs);
      args.push(query.groups.length);
      for (const group of query.groups) args.push(group.count, group.limits.length, ...group.limits.map((index) => index + 1));
    }
    const reply = await spend(keyArgs.length, ...keyArgs, ...args);
    const log = { generation: String(reply[0]), position: Number(reply[1]) };
    let at = 2;
    return queries.map(() => {
      const grants = [];
      const answered = Number(reply[at + 5]);
      for (let grant = 0; grant < answered; grant += 1) grants.push({ granted: Number(reply[at + 6 + 2 * grant]), waitMs: Number(reply[at + 7 + 2 * grant]) });
      const decision = {
        budgetAllowed: Number(reply[at]) === 1,
        used: Number(reply[at + 1]),
        log,
        refusedByLimits: Number(reply[at + 2]) === 1,
        windows: { current: Number(reply[at + 3]), previous: Number(reply[at + 4]) },
        grants,
      };
      at += 6 + 2 * answered;
      return decision;
    });
  }, { maxBatch: MAX_BATCH, timeoutMs: options.commandTimeoutMs });
  return {
    decide,
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
