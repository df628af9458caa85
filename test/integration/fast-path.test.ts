import { Redis, type Command } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

const LIST = `query List($id: ID!) { context(id: $id) { name memories(first: 20) { edges { node { id content version } } } } }`;
const ADD = `mutation ($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }`;

const modes = deployments();

async function fastHits(t: TestApp): Promise<number> {
  const metric = await t.app.registry.getSingleMetric('recall_response_cache_fast_path_hits_total')!.get();
  return metric.values.reduce((sum, value) => sum + value.value, 0);
}

describe.each(modes)('cached responses before the GraphQL pipeline ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  let contextId: string;
  const post = (token: string | null, headers: Record<string, string> = {}, variables: Record<string, unknown> = { id: contextId }) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify({ query: LIST, variables, operationName: 'List' }),
    });

  beforeAll(async () => {
    t = await createTestApp(backend, { ...(redisUrl ? { redisUrl } : {}), env: { RATE_LIMIT_FREE_PER_WINDOW: '12' } });
    url = await listen(t);
    user = await t.newUser();
    contextId = (await t.gql('mutation { createContext(input: { name: "Fast" }) { context { id } } }', {}, { token: user.token })).data.createContext.context.id;
    await t.gql(ADD, { id: contextId, content: 'hot' }, { token: user.token });
  });
  afterAll(() => t.close());

  it('answers a hit exactly as yoga does: body, media type, ETag, Cache-Control; and 304 for its ETag', async () => {
    const token = await t.login(user);
    const miss = await post(token);
    const missBody = await miss.text();
    expect(miss.status).toBe(200);
    const before = await fastHits(t);
    // yoga.fetch does not go through node:http, so this hit is yoga's own.
    const viaYoga = await t.app.yoga.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: LIST, variables: { id: contextId }, operationName: 'List' }),
    });
    const hit = await post(token);
    expect(await fastHits(t)).toBe(before + 1);
    expect(hit.status).toBe(200);
    // The same bytes, but for the budget left, which each request spends from.
    const asOf = (response: Response) => missBody.replace(/"remaining":\d+/, `"remaining":${response.headers.get('ratelimit-remaining')}`);
    expect(missBody).toContain('"extensions":{"cost":{"requested":1,');
    expect(await hit.text()).toBe(asOf(hit));
    expect(await viaYoga.text()).toBe(asOf(viaYoga));
    for (const name of ['content-type', 'etag', 'cache-control']) {
      expect(hit.headers.get(name), name).toBe(viaYoga.headers.get(name));
    }
    const notModified = await post(token, { 'if-none-match': hit.headers.get('etag')! });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(await fastHits(t)).toBe(before + 2);

    // Another user's ETag and a GET of the same operation.
    const other = await t.newUser();
    expect((await post(other.token, { 'if-none-match': hit.headers.get('etag')! })).status).toBe(200);
    const params = new URLSearchParams({ query: LIST, variables: JSON.stringify({ id: contextId }), operationName: 'List' });
    const get = await fetch(`${url}?${params}`, { headers: { authorization: `Bearer ${token}`, accept: 'application/graphql-response+json' } });
    expect(await get.text()).toBe(asOf(get));
    expect(await fastHits(t)).toBe(before + 3);
  });

  it('never serves a revoked token, and leaves anonymous callers and mutations to yoga', async () => {
    const token = await t.login(user);
    await post(token);
    expect((await post(token)).status).toBe(200);
    await t.gql('mutation { logout { errors { code } } }', {}, { token });
    const before = await fastHits(t);
    const revoked = await post(token);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get('www-authenticate')).toBe('Bearer');
    const anonymous = await post(null);
    expect((await anonymous.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(await fastHits(t)).toBe(before);
  });

  it('counts every request, hits included, once, and refuses the spent budget with 429', async () => {
    // Start at the beginning of a budget window, so that none of the counts below slides out.
    const windowMs = t.app.deps.config.RATE_LIMIT_WINDOW_SECONDS * 1000;
    t.clock.advance(windowMs - (t.clock.now().getTime() % windowMs));
    const fresh = await t.newUser();
    const own = (await t.gql('mutation { createContext(input: { name: "Mine" }) { context { id } } }', {}, { token: fresh.token })).data.createContext.context.id;
    // createContext was the first of 12 (signUp was anonymous: the address's budget).
    const first = await post(fresh.token, {}, { id: own });
    expect(first.headers.get('ratelimit-remaining')).toBe('10');
    // The miss was stored before it was answered: every request below is a hit.
    const before = await fastHits(t);
    const remaining: string[] = [];
    for (let i = 0; i < 10; i++) {
      const response = await post(fresh.token, {}, { id: own });
      expect(response.status).toBe(200);
      remaining.push(response.headers.get('ratelimit-remaining')!);
    }
    expect(remaining).toEqual(['9', '8', '7', '6', '5', '4', '3', '2', '1', '0']);
    expect(await fastHits(t)).toBe(before + 10); // every one a hit before the pipeline
    const refused = await post(fresh.token, {}, { id: own });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('ratelimit-limit')).toBe('12');
    const body = await refused.json();
    expect(body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED' });
    // Through yoga too (a mutation is never a fast-path hit).
    const viaYoga = await t.gql(ADD, { id: own, content: 'over budget' }, { token: fresh.token });
    expect(viaYoga.status).toBe(429);
    // The window slides on: a minute later there is room again.
    t.clock.advance(60_000 * 2);
    expect((await post(fresh.token, {}, { id: own })).status).toBe(200);
  });
});

describe.runIf(inject('redisUrl'))('operation budget across instances', () => {
  it('is one budget for a user on every instance', async () => {
    const prefix = `recall-test:${Math.random().toString(36).slice(2)}:`;
    const env = { REDIS_KEY_PREFIX: prefix, RATE_LIMIT_FREE_PER_WINDOW: '6' };
    const a = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env });
    const b = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env, database: a.database });
    try {
      // Both clocks at the same instant, early in a budget window.
      const windowMs = a.app.deps.config.RATE_LIMIT_WINDOW_SECONDS * 1000;
      const target = (Math.floor(Math.max(a.clock.now().getTime(), b.clock.now().getTime()) / windowMs) + 1) * windowMs + 1_000;
      a.clock.advance(target - a.clock.now().getTime());
      b.clock.advance(target - b.clock.now().getTime());
      const user = await a.newUser();
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await (i % 2 ? a : b).gql('{ viewer { id } }', {}, { token: user.token })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe.runIf(inject('redisUrl'))('a hit that its instance does not hold (two instances)', () => {
  let a: TestApp;
  let b: TestApp;
  let user: TestUser;
  let contextId: string;
  let urlA: string;
  let urlB: string;
  const sendCommand = Redis.prototype.sendCommand;
  /** Passes every Redis command of every instance through `spy`, which sends it (or holds it) with `send`. */
  const interceptRedis = (spy: (client: Redis, command: Command, send: () => unknown) => unknown) =>
    vi.spyOn(Redis.prototype, 'sendCommand').mockImplementation(function (this: Redis, command: Command, stream) {
      return spy(this, command, () => sendCommand.call(this, command, stream)) as ReturnType<Redis['sendCommand']>;
    });
  /** Whether a command is a budget's script call (on an instance's limits connection). */
  const isBudgetCall = (client: Redis, command: Command) =>
    client.options.connectionName === 'recall:limits' && command.name.toLowerCase().startsWith('eval');
  const read = async (url: string) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query: LIST, variables: { id: contextId }, operationName: 'List' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { context: { memories: { edges: Array<{ node: { content: string } }> } } } };
    return body.data.context.memories.edges.map((edge) => edge.node.content);
  };

  beforeEach(async () => {
    const shared = { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: `recall-test:${Math.random().toString(36).slice(2)}:` } };
    a = await createTestApp(backends().at(-1)!, shared);
    b = await createTestApp(backends().at(-1)!, { ...shared, database: a.database });
    user = await a.newUser();
    contextId = (await a.gql('mutation { createContext(input: { name: "Shared" }) { context { id } } }', {}, { token: user.token })).data.createContext.context.id;
    await a.gql(ADD, { id: contextId, content: 'before' }, { token: user.token });
    [urlA, urlB] = [await listen(a), await listen(b)];
    // Cached by A (in Redis and A's L1); B holds its own copy of the session only.
    expect(await read(urlA)).toEqual(['before']);
    await b.gql('{ viewer { id } }', {}, { token: user.token });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await b.close();
    await a.close();
  });

  it('asks Redis for the response alongside the budget, not after it, and serves what the other instance cached', async () => {
    const order: string[] = [];
    interceptRedis((client, command, send) => {
      if (isBudgetCall(client, command)) {
        order.push('budget sent');
        void command.promise.then(() => order.push('budget answered'));
      } else if (command.name.toLowerCase() === 'get' && String(command.args[0]).startsWith(`${a.cache.keys.prefix}response:`)) {
        order.push('response asked');
      }
      return send();
    });
    const before = await fastHits(b);
    expect(await read(urlB)).toEqual(['before']);
    expect(await fastHits(b)).toBe(before + 1);
    expect(order).toEqual(['response asked', 'budget sent', 'budget answered']);
  });

  it("never leaves the response a write made stale in the reading instance's L1, when the write lands between the early read and the budget's answer", async () => {
    // B's next budget call waits until A's write is acknowledged: B's early read of the
    // response (cached by A) happens before the write, its read position after it.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held!: () => void;
    const budgetHeld = new Promise<void>((resolve) => (held = resolve));
    let armed = true;
    interceptRedis((client, command, send) => {
      if (!armed || !isBudgetCall(client, command)) return send();
      armed = false;
      held();
      void gate.then(send);
      return command.promise;
    });
    const racing = read(urlB);
    await budgetHeld;
    await a.gql(ADD, { id: contextId, content: 'after' }, { token: user.token });
    release();
    // Begun before the write was acknowledged, it may answer either way.
    expect([['before'], ['after', 'before']]).toContainEqual(await racing);
    expect(await read(urlB)).toEqual(['after', 'before']);
  });
});
