import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deploymentEnv, runAdmin } from '../helpers/admin-cli.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';

const redisUrl = inject('redisUrl');
const MEMORY = 'query ($id: ID!) { memory(id: $id) { id content } }';

// Each command is a process of its own (npm, tsx): seconds each.
describe.runIf(inject('postgresUrl') && redisUrl)('npm run admin -- <command>, against a test prefix', { timeout: 60_000 }, () => {
  let t: TestApp;
  let env: Record<string, string>;
  let prefix: string;
  let redis: Redis;
  let owner: TestUser;
  let memoryIds: string[];
  let contextId: string;
  /** A key just outside the prefix, whose name the prefix's patterns would match if they escaped it. */
  let decoy: string;

  const json = async (args: string[], extraEnv: Record<string, string> = {}) => {
    const result = await runAdmin([...args, '--json'], { ...env, ...extraEnv });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    t = await createTestApp('postgres', { redisUrl: redisUrl! });
    env = deploymentEnv(t);
    prefix = t.app.deps.config.REDIS_KEY_PREFIX;
    redis = new Redis(redisUrl!);
    owner = await t.newUser();
    ({ contextId, memoryIds } = await t.newMemories(owner, ['first', 'second']));
    for (const id of memoryIds) await t.gql(MEMORY, { id }, { token: owner.token });
    decoy = `${prefix.slice(0, -1)}-decoy:memory:${randomBytes(4).toString('hex')}`;
    await redis.set(decoy, 'not Recall', 'EX', 600);
  });
  afterAll(async () => {
    await redis?.del(decoy);
    redis?.disconnect();
    await t?.close();
  });

  it('stats --json: keys by kind, Redis memory, top keys with their method, the circuit', async () => {
    const stats = await json(['stats']);
    expect(stats.keys.find((k: any) => k.kind === 'memory').count).toBe(2);
    expect(stats.keysComplete).toBe(true);
    expect(stats.redis.usedMemoryBytes).toBeGreaterThan(0);
    expect(['OBJECT_FREQ', 'MEMORY_USAGE']).toContain(stats.topKeys[0].method);
    expect(stats.circuit).toBe('closed');
    const human = await runAdmin(['stats'], env);
    expect(human.stdout).toContain('circuit: closed');
  });

  it('top-keys --kind --limit --json: within the kind, at most the limit, method stated', async () => {
    const top = await json(['top-keys', '--kind', 'memory', '--limit', '1']);
    expect(top.keys).toHaveLength(1);
    expect(top.keys[0]).toMatchObject({ kind: 'memory' });
    expect(memoryIds.map((id) => `memory:${id}`)).toContain(top.keys[0].key);
    expect(['OBJECT_FREQ', 'MEMORY_USAGE']).toContain(top.method);
    expect(top.complete).toBe(true);
  });

  it('ttl: with or without the prefix, and only within it', async () => {
    const bare = await json(['ttl', `memory:${memoryIds[0]}`]);
    expect(bare.exists).toBe(true);
    expect(bare.ttlMs).toBeGreaterThan(0);
    expect(await json(['ttl', `${prefix}memory:${memoryIds[0]}`])).toMatchObject({ key: `memory:${memoryIds[0]}`, exists: true });
    expect(await json(['ttl', 'log'])).toEqual({ key: 'log', exists: true, ttlMs: null });
    // The decoy's full name is read as a name under the prefix: there is no such key there.
    expect(await json(['ttl', decoy])).toMatchObject({ exists: false });
  });

  it('clear --dry-run deletes nothing; clear deletes only under the prefix, and keeps the guards', async () => {
    const before = (await redis.keys(`${prefix}*`)).sort();
    const dry = await json(['clear', 'memory:*', '--dry-run']);
    expect(dry).toMatchObject({ dryRun: true, matched: 2, deleted: 0 });
    expect((await redis.keys(`${prefix}*`)).sort()).toEqual(before);
    expect(await redis.exists(`${prefix}memory:${memoryIds[0]}`)).toBe(1);

    // A pattern that would match the decoy if it were applied outside the prefix.
    const everything = await json(['clear', '*', '--dry-run']);
    expect(everything.sample.some((key: string) => key.includes('decoy'))).toBe(false);

    const cleared = await json(['clear', 'memory:*']);
    expect(cleared).toMatchObject({ dryRun: false, matched: 2, deleted: 2 });
    expect(await redis.exists(`${prefix}memory:${memoryIds[0]}`, `${prefix}memory:${memoryIds[1]}`)).toBe(0);
    expect(await redis.get(decoy)).toBe('not Recall');

    await t.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token });
    const all = await json(['clear', '*']);
    expect(all.deleted).toBeGreaterThan(0);
    expect(await redis.get(decoy)).toBe('not Recall');
    // Guards stay: the positions of invalidations and the tag sets of responses.
    const left = await redis.keys(`${prefix}*`);
    expect(left.every((key) => /^(entity-pos|response-pos|response-tag):/.test(key.slice(prefix.length)))).toBe(true);
  });

  it('purge <typename> <id>: the running server reads the memory from PostgreSQL again', async () => {
    await t.gql(MEMORY, { id: memoryIds[1] }, { token: owner.token });
    const purged = await json(['purge', 'Memory', memoryIds[1]!]);
    expect(purged).toEqual({ typename: 'Memory', id: memoryIds[1], purged: 2 });
    const loads = await t.metric('recall_cache_source_loads_total', { kind: 'memory' });
    await t.gql('query ($id: ID!) { memory(id: $id) { content } }', { id: memoryIds[1] }, { token: owner.token });
    expect(await t.metric('recall_cache_source_loads_total', { kind: 'memory' })).toBe(loads + 1);

    const unknown = await runAdmin(['purge', 'Memory', 'mem_nothing', '--json'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('NOT_FOUND');
    expect((await runAdmin(['purge', 'Session', 'x'], env)).code).toBe(2);
  });

  it('warm <contextId>: loads the memories and their scores into Redis', async () => {
    await redis.unlink(...memoryIds.map((id) => `${prefix}memory:${id}`));
    const warmed = await json(['warm', contextId]);
    expect(warmed).toEqual({ contextId, contexts: 1, memories: 2, scores: 2 });
    expect(await redis.exists(...memoryIds.map((id) => `${prefix}memory:${id}`))).toBe(2);
  });

  it('reset-rate-limit <identity> [field]: through the same reset as resetRateLimit', async () => {
    // Every request spends from its caller's budget: the owner's reads left counts in Redis.
    await t.gql(MEMORY, { id: memoryIds[0] }, { token: owner.token });
    const budget = `${prefix}budget:{user:${owner.id}}:*`;
    expect((await redis.keys(budget)).length).toBeGreaterThan(0);
    expect(await json(['reset-rate-limit', `user:${owner.id}`])).toEqual({ identity: `user:${owner.id}`, field: null, reset: true });
    expect(await redis.keys(budget)).toEqual([]);
    expect(await json(['reset-rate-limit', `user:${owner.id}`, 'Mutation.addMemories'])).toMatchObject({ field: 'Mutation.addMemories' });
    const bad = await runAdmin(['reset-rate-limit', 'someone'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('identity must be');
  });

  it('refuses a prefix that holds no Recall data, unless --force; exit 2 on usage errors', async () => {
    const empty = { REDIS_KEY_PREFIX: `recall-test:${randomBytes(6).toString('hex')}:` };
    for (const args of [['stats'], ['clear', '*'], ['ttl', 'log'], ['top-keys']]) {
      const refused = await runAdmin(args, { ...env, ...empty });
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.stderr).toContain('No Recall data under the prefix');
    }
    // Refused before anything was written there.
    expect(await redis.keys(`${empty.REDIS_KEY_PREFIX}*`)).toEqual([]);
    expect(await json(['clear', '*', '--force'], empty)).toMatchObject({ matched: 0, deleted: 0 });
    expect(await json(['ttl', 'log', '--force'], empty)).toMatchObject({ exists: false });

    expect((await runAdmin(['no-such-command'], env)).code).toBe(2);
    expect((await runAdmin(['top-keys', '--limit', 'many'], env)).code).toBe(2);
    expect((await runAdmin(['--help'], env)).code).toBe(0);
  }, 120_000);
});
