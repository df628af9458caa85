import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { createCacheKeys } from '../../src/cache/keys.js';
import { createMemoryLimitStore } from '../../src/rate-limit/memory-limit-store.js';
import type { LimitQuery, LimitStore } from '../../src/rate-limit/rate-limiter.js';
import { createRedisLimitStore } from '../../src/rate-limit/redis-limit-store.js';

/** The same cases for both stores: the script in Redis and its twin in process must decide alike. */
const redisUrl = inject('redisUrl');
const clients: Redis[] = [];
afterAll(() => {
  for (const client of clients) client.disconnect();
});

interface Created {
  store: LimitStore;
  prefix: string;
  cleanup(): Promise<void>;
  /** Script calls sent so far (Redis only). */
  scriptCalls?(): number;
}

function stores(): Array<{ name: string; create(): Created }> {
  return [
    {
      name: 'in process',
      create: () => ({ store: createMemoryLimitStore({ maxKeys: 1_000 }), prefix: 'test:', cleanup: async () => undefined }),
    },
    ...(redisUrl
      ? [
          {
            name: 'Redis',
            create() {
              const prefix = `recall-test:${randomBytes(6).toString('hex')}:`;
              const client = new Redis(redisUrl);
              clients.push(client);
              const sent = vi.spyOn(client, 'sendCommand');
              return {
                store: createRedisLimitStore(client, createCacheKeys(prefix), { commandTimeoutMs: 5_000 }),
                prefix,
                scriptCalls: () => sent.mock.calls.filter(([command]) => command.name === 'evalsha' || command.name === 'eval').length,
                async cleanup() {
                  const keys = await client.keys(`${prefix}*`);
                  if (keys.length > 0) await client.unlink(...keys);
                },
              };
            },
          },
        ]
      : []),
  ];
}

describe.each(stores())('limit store ($name)', ({ create }) => {
  const T0 = 1_800_000_000_000;
  const query = (prefix: string, overrides: Partial<LimitQuery>): LimitQuery => ({
    budgetKeys: [`${prefix}budget:{ip:1}:1`, `${prefix}budget:{ip:1}:0`],
    budgetLimit: 10,
    budgetWindowMs: 60_000,
    previousWeight: 0,
    points: 1,
    nowMs: T0,
    operationId: randomBytes(4).toString('hex'),
    refuseWhenAllRefused: false,
    limits: [],
    groups: [],
    ...overrides,
  });

  it('spends points, and refuses an operation that does not fit without spending anything', async () => {
    const { store, prefix, cleanup } = create();
    try {
      expect(await store.decide(query(prefix, { points: 7 }))).toMatchObject({ budgetAllowed: true, used: 7 });
      expect(await store.decide(query(prefix, { points: 4 }))).toMatchObject({ budgetAllowed: false, used: 7, grants: [] });
      expect(await store.decide(query(prefix, { points: 3 }))).toMatchObject({ budgetAllowed: true, used: 10 });
      // No budget (admins): nothing counted.
      expect(await store.decide(query(prefix, { budgetLimit: 0, points: 50 }))).toMatchObject({ budgetAllowed: true, used: 0 });
    } finally {
      await cleanup();
    }
  });

  it('grants each group what every one of its limits has room for, sharing a limit between groups', async () => {
    const { store, prefix, cleanup } = create();
    try {
      const perEmail = (email: string) => ({ key: `${prefix}rate:{ip:1}:login:0:${email}`, max: 3, windowMs: 60_000 });
      const perAddress = { key: `${prefix}rate:{ip:1}:login:1`, max: 5, windowMs: 60_000 };
      const limits = [perEmail('a'), perEmail('b'), perAddress];
      const first = await store.decide(query(prefix, { limits, groups: [{ count: 4, limits: [0, 2] }, { count: 4, limits: [1, 2] }] }));
      // a: 3 (its own limit); b: the 2 the address has left.
      expect(first.grants.map((grant) => grant.granted)).toEqual([3, 2]);
      expect(first.grants.every((grant) => grant.waitMs === 60_000)).toBe(true);
      // 30 s later the address is still full; its calls leave the window at T0 + 60 s.
      const later = await store.decide(query(prefix, { nowMs: T0 + 30_000, limits, groups: [{ count: 1, limits: [1, 2] }] }));
      expect(later.grants).toEqual([{ granted: 0, waitMs: 30_000 }]);
      // Refused calls were not counted: once the window has slid past, there is room again.
      const after = await store.decide(query(prefix, { nowMs: T0 + 60_001, limits, groups: [{ count: 5, limits: [0, 2] }] }));
      expect(after.grants.map((grant) => grant.granted)).toEqual([3]);
    } finally {
      await cleanup();
    }
  });

  it('refuses the operation whole, spending nothing, when asked to and every call is refused', async () => {
    const { store, prefix, cleanup } = create();
    try {
      const limits = [{ key: `${prefix}rate:{ip:1}:signUp:0`, max: 1, windowMs: 60_000 }];
      const ask = () => store.decide(query(prefix, { limits, groups: [{ count: 1, limits: [0] }], refuseWhenAllRefused: true }));
      expect(await ask()).toMatchObject({ refusedByLimits: false, used: 1, grants: [{ granted: 1, waitMs: 0 }] });
      expect(await ask()).toMatchObject({ refusedByLimits: true, used: 1, grants: [{ granted: 0, waitMs: 60_000 }] });
      // The budget was not spent by the refusal.
      expect(await store.decide(query(prefix, { points: 9 }))).toMatchObject({ budgetAllowed: true, used: 10 });
    } finally {
      await cleanup();
    }
  });

  it('decides concurrent operations exactly, each seeing what those before it spent', async () => {
    const { store, prefix, cleanup, scriptCalls } = create();
    try {
      const limit = { key: `${prefix}rate:{ip:1}:search:0`, max: 10, windowMs: 60_000 };
      // A budget of 30 points for one caller, and a field limit of 10 calls that half of them want.
      const asked = Array.from({ length: 100 }, (_, i) =>
        query(prefix, { budgetLimit: 30, ...(i % 2 === 0 ? { limits: [limit], groups: [{ count: 1, limits: [0] }] } : {}) }),
      );
      // Loads the script first (no budget: it spends nothing), so that only the decisions are counted.
      await store.decide(query(prefix, { budgetLimit: 0 }));
      const callsBefore = scriptCalls?.() ?? 0;
      const decisions = await Promise.all(asked.map((one) => store.decide(one)));
      const allowed = decisions.filter((decision) => decision.budgetAllowed);
      expect(allowed).toHaveLength(30);
      // Each allowed operation saw the ones before it: the budget used after each is 1, 2, … 30.
      expect(allowed.map((decision) => decision.used)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(decisions.flatMap((decision) => decision.grants).reduce((sum, grant) => sum + grant.granted, 0)).toBe(10);
      expect((await store.peek(asked[0]!.budgetKeys, 0, [limit], T0)).counts).toEqual([10]);
      // In Redis, they shared script calls: one alone (none was in flight), then the rest together.
      if (scriptCalls) expect(scriptCalls() - callsBefore).toBeLessThanOrEqual(2);
    } finally {
      await cleanup();
    }
  });

  it('shows and resets counts', async () => {
    const { store, prefix, cleanup } = create();
    try {
      const limit = { key: `${prefix}rate:{user:u}:search:0`, max: 3, windowMs: 60_000 };
      await store.decide(query(prefix, { limits: [limit], groups: [{ count: 2, limits: [0] }] }));
      expect(await store.peek(query(prefix, {}).budgetKeys, 0, [limit], T0 + 1)).toEqual({ used: 1, counts: [2] });
      await store.reset(`${prefix}rate:{user:u}:`);
      expect(await store.peek(query(prefix, {}).budgetKeys, 0, [limit], T0 + 1)).toEqual({ used: 1, counts: [0] });
    } finally {
      await cleanup();
    }
  });
});
