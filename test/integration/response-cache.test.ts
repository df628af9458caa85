import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { freePort } from '../helpers/redis-server.js';
import { backends, deployments } from '../helpers/test-database.js';

const LIST = `query ($id: ID!) { context(id: $id) { name memories(first: 50) { edges { node { id content version } } } } }`;
const SEARCH = `query ($id: ID!, $q: String!) { searchMemories(input: { contextId: $id, query: $q }) { edges { node { id content } } } }`;
const READ = `query ($id: ID!) { memory(id: $id) { id content version } }`;
const ADD = `mutation ($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } } }`;
const DELETE = `mutation ($id: ID!) { deleteMemory(input: { id: $id }) { deletedMemoryId } }`;

const modes = deployments();

async function contextOf(t: TestApp, user: TestUser, name = 'Notes') {
  const created = await t.gql('mutation ($n: String!) { createContext(input: { name: $n }) { context { id } } }', { n: name }, { token: user.token });
  return created.data.createContext.context.id as string;
}

/** What `extensions.cache` says of a query: what an admin who asks for it sees (hit, and the seconds left). */
async function cacheDebug(t: TestApp, admin: TestUser, query: string, variables: Record<string, unknown>) {
  const reply = await t.app.yoga.fetch('http://recall.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}`, 'x-recall-cache-debug': '1' },
    body: JSON.stringify({ query, variables }),
  });
  return ((await reply.json()) as { extensions: { cache: { hit: boolean; ttl: number } } }).extensions.cache;
}

/** A new user made an admin, with a session that carries the role. */
async function newAdmin(t: TestApp): Promise<TestUser> {
  const admin = await t.newUser('Admin');
  await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
  return { ...admin, token: await t.login(admin) };
}

describe.each(modes)('response cache ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let user: TestUser;
  let admin: TestUser;
  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl } : {});
    [user, admin] = [await t.newUser(), await newAdmin(t)];
  });
  afterAll(() => t.close());

  const relogin = async () => {
    user = { ...user, token: await t.login(user) };
    admin = { ...admin, token: await t.login(admin) };
  };

  it('answers a repeated query from the cache, without SQL, with Cache-Control and an ETag', async () => {
    const id = await contextOf(t, user);
    await t.gql(ADD, { id, content: 'cached note' }, { token: user.token });
    const first = await t.gql(LIST, { id }, { token: user.token });
    // Browsers may keep it, but revalidate every use: the ETag makes that a 304.
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    const statements = await t.countStatements(async () => {
      const second = await t.gql(LIST, { id }, { token: user.token });
      expect(second.data).toEqual(first.data);
      expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
      expect(second.headers.get('cache-control')).toBe('private, no-cache');
      expect(second.errors).toBeUndefined();
    });
    expect(statements).toEqual([]);
  });

  it('keeps a response as long as its types allow (@cacheControl)', async () => {
    const id = await contextOf(t, admin);
    await t.gql(ADD, { id, content: 'kept an hour' }, { token: admin.token });
    expect(await cacheDebug(t, admin, LIST, { id })).toEqual({ hit: false, ttl: 3600 }); // Memory's @cacheControl
    expect(await cacheDebug(t, admin, LIST, { id })).toEqual({ hit: true, ttl: expect.toSatisfy((ttl: number) => ttl === 3599 || ttl === 3600) });
  });

  it('shows cache metadata only to admins who ask for it', async () => {
    // The admin's role was set in the database after it signed up: a new session carries it.
    await relogin();
    const id = await contextOf(t, admin);
    const plain = await t.gql(LIST, { id }, { token: admin.token });
    expect(plain.data).toBeTruthy();
    expect(JSON.stringify(plain)).not.toContain('"cache"');
    const debug = await t.gql(LIST, { id }, { token: admin.token, headers: { 'x-recall-cache-debug': '1' } });
    expect((debug as any).extensions).toBeUndefined(); // the helper keeps data and errors only
    const raw = await t.app.yoga.fetch('http://recall.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}`, 'x-recall-cache-debug': '1' },
      body: JSON.stringify({ query: LIST, variables: { id } }),
    });
    expect(((await raw.json()) as any).extensions.cache).toMatchObject({ hit: true, ttl: expect.any(Number) });
    const asUser = await t.app.yoga.fetch('http://recall.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, 'x-recall-cache-debug': '1' },
      body: JSON.stringify({ query: '{ contexts { edges { node { id } } } }' }),
    });
    expect(((await asUser.json()) as any).extensions.cache).toBeUndefined();
  });

  it('never caches the viewer, and says so', async () => {
    const result = await t.gql('{ viewer { id } }', {}, { token: user.token });
    expect(result.headers.get('cache-control')).toBe('no-store');
  });

  it('answers If-None-Match with 304 while the response is cached, and 200 once a write changed it', async () => {
    const id = await contextOf(t, user);
    const first = await t.gql(LIST, { id }, { token: user.token });
    const etag = first.headers.get('etag')!;
    const conditional = () =>
      t.app.yoga.fetch('http://recall.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, 'if-none-match': etag },
        body: JSON.stringify({ query: LIST, variables: { id } }),
      });
    expect((await conditional()).status).toBe(304);
    await t.gql(ADD, { id, content: 'changes the list' }, { token: user.token });
    const after = await conditional();
    expect(after.status).toBe(200);
    expect(JSON.stringify(await after.json())).toContain('changes the list');
  });

  it('refuses a revoked token with 401 although its answers were cached, and never with 304', async () => {
    const other = await t.newUser();
    const id = await contextOf(t, other);
    const other2 = { ...other, token: await t.login(other) };
    const cached = await t.gql(LIST, { id }, { token: other2.token });
    await t.gql(LIST, { id }, { token: other2.token });
    await t.gql('mutation { logout { sessionId } }', {}, { token: other2.token });
    expect((await t.gql(LIST, { id }, { token: other2.token })).status).toBe(401);
    const conditional = await t.app.yoga.fetch('http://recall.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${other2.token}`, 'if-none-match': cached.headers.get('etag')! },
      body: JSON.stringify({ query: LIST, variables: { id } }),
    });
    expect(conditional.status).toBe(401);
  });

  it('shows a new, changed or deleted memory in cached lists and searches on the very next request', async () => {
    const id = await contextOf(t, user);
    const added = await t.gql(ADD, { id, content: 'alpine lake' }, { token: user.token });
    const memoryId = added.data.addMemories.memories[0].id;
    const contents = (result: any) => result.data.context.memories.edges.map((e: any) => e.node.content);
    const found = (result: any) => result.data.searchMemories.edges.map((e: any) => e.node.content);
    for (let i = 0; i < 2; i++) {
      await t.gql(LIST, { id }, { token: user.token });
      await t.gql(SEARCH, { id, q: 'lake' }, { token: user.token });
    }
    await t.gql(ADD, { id, content: 'frozen lake' }, { token: user.token });
    expect(contents(await t.gql(LIST, { id }, { token: user.token }))).toEqual(['frozen lake', 'alpine lake']);
    expect(found(await t.gql(SEARCH, { id, q: 'lake' }, { token: user.token })).sort()).toEqual(['alpine lake', 'frozen lake']);
    await t.gql(UPDATE, { id: memoryId, content: 'alpine pond' }, { token: user.token });
    expect(contents(await t.gql(LIST, { id }, { token: user.token }))).toEqual(['frozen lake', 'alpine pond']);
    expect(found(await t.gql(SEARCH, { id, q: 'lake' }, { token: user.token }))).toEqual(['frozen lake']);
    await t.gql(DELETE, { id: memoryId }, { token: user.token });
    expect(contents(await t.gql(LIST, { id }, { token: user.token }))).toEqual(['frozen lake']);
    expect((await t.gql(READ, { id: memoryId }, { token: user.token })).data.memory).toBeNull();
  });

  it('caches a response with an expiring memory no longer than the memory lives', async () => {
    const id = await contextOf(t, admin);
    const expiresAt = new Date(t.clock.now().getTime() + 20 * 60_000).toISOString();
    const added = await t.gql(
      'mutation ($id: ID!, $at: DateTime!) { addMemories(input: { contextId: $id, items: [{ content: "short-lived", expiresAt: $at }] }) { memories { id } } }',
      { id, at: expiresAt },
      { token: admin.token },
    );
    const maxAge = (await cacheDebug(t, admin, READ, { id: added.data.addMemories.memories[0].id })).ttl;
    expect(maxAge).toBeGreaterThan(1_000);
    expect(maxAge).toBeLessThanOrEqual(20 * 60);
  });

  it('never shows one user another user\'s cached answer', async () => {
    const users = [await t.newUser('A'), await t.newUser('B'), await t.newUser('C')];
    const contexts = new Map<string, string>();
    for (const u of users) contexts.set(u.id, await contextOf(t, u, `ctx of ${u.id}`));
    for (const [index, u] of users.entries()) users[index] = { ...u, token: await t.login(u) };
    const queries = [
      (_u: TestUser) => ['{ contexts { edges { node { id name } } } }', {}] as const,
      (u: TestUser) => [LIST, { id: contexts.get(u.id)! }] as const,
      (_u: TestUser) => [LIST, { id: contexts.get(users[0]!.id)! }] as const,
      (_u: TestUser) => ['{ viewer { id } }', {}] as const,
    ];
    for (let round = 0; round < 200; round++) {
      const u = users[Math.floor(Math.random() * users.length)]!;
      const pickQuery = Math.floor(Math.random() * queries.length);
      const [query, variables] = queries[pickQuery]!(u);
      const result = await t.gql(query, variables, { token: u.token });
      const text = JSON.stringify(result.data);
      for (const other of users) {
        if (other.id !== u.id) expect(text).not.toContain(`ctx of ${other.id}`);
      }
      if (pickQuery === 3) expect(result.data.viewer.id).toBe(u.id);
    }
  });

  it('reads its writes: 1,000 rounds of write then read, not one stale', async () => {
    const id = await contextOf(t, user);
    const added = await t.gql(ADD, { id, content: 'round 0' }, { token: user.token });
    const memoryId = added.data.addMemories.memories[0].id;
    let stale = 0;
    for (let round = 1; round <= 1_000; round++) {
      await t.gql(UPDATE, { id: memoryId, content: `round ${round}` }, { token: user.token });
      const read = round % 2 === 0 ? await t.gql(READ, { id: memoryId }, { token: user.token }) : await t.gql(LIST, { id }, { token: user.token });
      const content = round % 2 === 0 ? read.data.memory.content : read.data.context.memories.edges[0].node.content;
      if (content !== `round ${round}`) stale++;
    }
    expect(stale).toBe(0);
  }, 120_000);
});

describe.runIf(inject('redisUrl'))('response cache across instances and faults', () => {
  it('invalidates on B what a mutation on A changed', async () => {
    const prefix = `recall-test:${Math.random().toString(36).slice(2)}:`;
    const a = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: prefix } });
    const b = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: prefix }, database: a.database });
    try {
      const user = await a.newUser();
      const id = await contextOf(a, user);
      await b.gql(LIST, { id }, { token: user.token });
      // The instances share a database and its statement log: A's acknowledgment of its own
      // write (deleting its outbox rows, after its reply) may land meanwhile, and is not B's.
      const onBOnly = (statements: string[]) => statements.filter((sql) => !sql.includes('cache_outbox'));
      expect(onBOnly(await b.countStatements(() => b.gql(LIST, { id }, { token: user.token })))).toEqual([]);
      await a.gql(ADD, { id, content: 'written on A' }, { token: user.token });
      const onB = await b.gql(LIST, { id }, { token: user.token });
      expect(onB.data.context.memories.edges.map((e: any) => e.node.content)).toEqual(['written on A']);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('keeps hot responses in process, with the time they have left, and drops them on every instance on a write', async () => {
    const prefix = `recall-test:${Math.random().toString(36).slice(2)}:`;
    const a = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: prefix } });
    const b = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: prefix }, database: a.database });
    const responseLookups = async (t: TestApp, tier: string) =>
      (await t.app.registry.getSingleMetric('recall_cache_lookups_total')!.get()).values
        .filter(({ labels }) => labels['kind'] === 'response' && labels['tier'] === tier)
        .reduce((sum, { value }) => sum + value, 0);
    try {
      const user = await newAdmin(a);
      const id = await contextOf(a, user);
      await a.gql(ADD, { id, content: 'hot' }, { token: user.token });
      await b.gql(LIST, { id }, { token: user.token }); // computed on B, kept in Redis and B's L1
      const redisLookups = await responseLookups(b, 'redis');
      const second = await cacheDebug(b, user, LIST, { id });
      expect(second).toEqual({ hit: true, ttl: expect.toSatisfy((ttl: number) => ttl === 3599 || ttl === 3600) });
      // The response came from B's memory, without asking Redis.
      expect(await responseLookups(b, 'redis')).toBe(redisLookups);
      await a.gql(ADD, { id, content: 'new on A' }, { token: user.token });
      const fresh = await b.gql(LIST, { id }, { token: user.token });
      expect(fresh.data.context.memories.edges.map((e: any) => e.node.content).sort()).toEqual(['hot', 'new on A']);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('answers queries uncached and still takes mutations while Redis is unreachable', async () => {
    const t = await createTestApp(backends().at(-1)!, { redisUrl: `redis://127.0.0.1:${await freePort()}` });
    try {
      const user = await t.newUser();
      const id = await contextOf(t, user);
      await t.gql(ADD, { id, content: 'no redis' }, { token: user.token });
      const token = await t.login(user);
      for (let i = 0; i < 3; i++) {
        const result = await t.gql(LIST, { id }, { token });
        expect(result.errors).toBeUndefined();
        expect(result.data.context.memories.edges).toHaveLength(1);
      }
    } finally {
      await t.close();
    }
  });
});
