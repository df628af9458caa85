import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listen, subscribeOverSse, subscribeOverWebSocket, webSocketClient } from '../helpers/subscriptions.js';
import { createTestApp, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const SESSIONS = `query ($first: Int, $after: String) {
  viewer { sessions(first: $first, after: $after) { edges { cursor node { id current ip userAgent createdAt lastSeenAt expiresAt } } pageInfo { hasNextPage endCursor } } }
}`;
const REVOKE = 'mutation ($id: ID!) { revokeSession(input: { id: $id }) { sessionId errors { code field } } }';
const EVERYWHERE = 'mutation ($keep: Boolean) { logoutEverywhere(input: { keepCurrent: $keep }) { revokedCount errors { code } } }';
const DELETE_ACCOUNT = 'mutation ($password: String!) { deleteAccount(input: { password: $password }) { userId errors { code field } } }';
const LIST = 'query List($id: ID!) { context(id: $id) { name memories(first: 10) { edges { node { id content } } } } }';
const INVALIDATIONS = 'subscription { cacheInvalidated { reason entities { typename id } } }';

const CREATE_KEY = 'mutation ($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } errors { code } } }';

async function newKey(t: TestApp, token: string): Promise<{ id: string; secret: string }> {
  const created = (await t.gql(CREATE_KEY, { input: { name: 'agent', scopes: ['MEMORY_READ'] } }, { token })).data.createApiKey;
  return { id: created.apiKey.id, secret: created.secret };
}

const sessionIds = async (t: TestApp, token: string): Promise<string[]> =>
  (await t.gql(SESSIONS, {}, { token })).data.viewer.sessions.edges.map((edge: { node: { id: string } }) => edge.node.id);

const redisUrl = inject('redisUrl');

describe.runIf(redisUrl)('sessions, revocation and account deletion on two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let urlA: string;
  let urlB: string;
  let prefix: string;

  /** A POST of the List query to a real server, through its cached-hit front. */
  const post = (url: string, token: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query: LIST, variables, operationName: 'List' }),
    });

  beforeAll(async () => {
    prefix = `recall-test:${Math.random().toString(36).slice(2)}:`;
    const env = { REDIS_KEY_PREFIX: prefix };
    a = await createTestApp(backends().at(-1)!, { redisUrl: redisUrl!, env });
    b = await createTestApp(backends().at(-1)!, { redisUrl: redisUrl!, env, database: a.database });
    urlA = await listen(a);
    urlB = await listen(b);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('lists the live sessions, newest first, with the current one marked, page by page', async () => {
    const user = await a.newUser();
    const second = await a.login(user);
    const third = await a.login(user);
    const first = await a.gql(SESSIONS, { first: 2 }, { token: second, headers: { 'user-agent': 'session-test/1.0' } });
    const page = first.data.viewer.sessions;
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.edges.map((edge: any) => edge.node.current)).toEqual([false, true]);
    expect(page.edges[1].node).toMatchObject({ userAgent: null });
    const rest = await a.gql(SESSIONS, { first: 2, after: page.pageInfo.endCursor }, { token: third });
    expect(rest.data.viewer.sessions.edges).toHaveLength(1);
    expect(rest.data.viewer.sessions.pageInfo.hasNextPage).toBe(false);
    expect(rest.data.viewer.sessions.edges[0].node.current).toBe(false);

    // An ended session is gone from the list, and refused at once on the other instance.
    expect((await b.gql('{ viewer { id } }', {}, { token: second })).status).toBe(200);
    await a.gql('mutation { logout { errors { code } } }', {}, { token: second });
    expect(await sessionIds(a, third)).toHaveLength(2);
    expect((await b.gql('{ viewer { id } }', {}, { token: second })).status).toBe(401);
  });

  it('revokeSession ends one session on every instance before replying, even for cached responses and 304s', async () => {
    const user = await a.newUser();
    const { contextId } = await a.newMemories(user, ['kept in the response cache']);
    const victim = await a.login(user);
    // Instance B caches the answer for the victim's user, and the victim holds its ETag.
    await post(urlB, victim, { id: contextId });
    const hit = await post(urlB, victim, { id: contextId });
    expect(hit.status).toBe(200);
    const etag = hit.headers.get('etag')!;
    expect((await post(urlB, victim, { id: contextId }, { 'if-none-match': etag })).status).toBe(304);

    const [victimId] = (await a.gql(SESSIONS, {}, { token: victim })).data.viewer.sessions.edges
      .map((edge: any) => edge.node)
      .filter((node: any) => node.current)
      .map((node: any) => node.id);
    const revoked = await a.gql(REVOKE, { id: victimId }, { token: user.token });
    expect(revoked.data.revokeSession).toEqual({ sessionId: victimId, errors: [] });

    expect((await post(urlB, victim, { id: contextId })).status).toBe(401);
    expect((await post(urlB, victim, { id: contextId }, { 'if-none-match': etag })).status).toBe(401);
    expect((await b.gql('{ viewer { id } }', {}, { token: victim })).status).toBe(401);
    // The other session is untouched, and still answered from the cache.
    expect((await post(urlB, user.token, { id: contextId })).status).toBe(200);
  });

  it('answers a foreign session id exactly like an unknown one, and changes nothing', async () => {
    const user = await a.newUser();
    const other = await a.newUser();
    const [theirs] = await sessionIds(a, other.token);
    const foreign = await a.gql(REVOKE, { id: theirs }, { token: user.token });
    const unknown = await a.gql(REVOKE, { id: 'ses_00000000000000000000000000' }, { token: user.token });
    expect(foreign.data.revokeSession).toEqual({ sessionId: null, errors: [{ code: 'NOT_FOUND', field: ['id'] }] });
    expect(unknown.data).toEqual(foreign.data);
    expect((await b.gql('{ viewer { id } }', {}, { token: other.token })).data.viewer.id).toBe(other.id);
  });

  it('logoutEverywhere ends every session, or all but the current one, and their subscriptions', async () => {
    const user = await a.newUser();
    const phone = await a.login(user);
    const laptop = await a.login(user);
    const subscription = await subscribeOverSse(b, urlB, phone, INVALIDATIONS);
    try {
      const kept = await a.gql(EVERYWHERE, { keep: true }, { token: laptop });
      expect(kept.data.logoutEverywhere).toEqual({ revokedCount: 2, errors: [] });
      for (const token of [phone, user.token]) expect((await b.gql('{ viewer { id } }', {}, { token })).status).toBe(401);
      expect((await b.gql('{ viewer { id } }', {}, { token: laptop })).data.viewer.id).toBe(user.id);
      // The phone's open subscription on B ends as its session did.
      const ended = await subscription.next();
      expect(ended.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await subscription.close();
    }

    const all = await a.gql(EVERYWHERE, {}, { token: laptop });
    expect(all.data.logoutEverywhere).toEqual({ revokedCount: 1, errors: [] });
    expect((await b.gql('{ viewer { id } }', {}, { token: laptop })).status).toBe(401);
  });

  it('revokeApiKey ends the key on every instance: its cached answers, its 304s, its open subscription', async () => {
    const user = await a.newUser();
    const { contextId } = await a.newMemories(user, ['read by an agent']);
    const key = await newKey(a, user.token);
    await post(urlB, key.secret, { id: contextId });
    const hit = await post(urlB, key.secret, { id: contextId });
    expect(hit.status).toBe(200);
    const etag = hit.headers.get('etag')!;
    // The key's cached copy is sealed like a session's.
    const redis = new Redis(redisUrl!);
    try {
      const raw = (await redis.get(`${prefix}apikey:${createHash('sha256').update(key.secret).digest('hex')}`))!;
      expect(raw).toMatch(/^1\|v\|\d+\|\d+\|"[A-Za-z0-9_-]+"$/);
      expect(raw).not.toContain(user.email);
    } finally {
      redis.disconnect();
    }
    const subscription = await subscribeOverSse(b, urlB, key.secret, INVALIDATIONS);
    try {
      const revoked = await a.gql('mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { errors { code } } }', { id: key.id }, { token: user.token });
      expect(revoked.data.revokeApiKey.errors).toEqual([]);
      expect((await post(urlB, key.secret, { id: contextId })).status).toBe(401);
      expect((await post(urlB, key.secret, { id: contextId }, { 'if-none-match': etag })).status).toBe(401);
      expect((await subscription.next()).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await subscription.close();
    }
  });

  it("ends a revoked session's subscription over WebSocket too, on the other instance", async () => {
    const user = await a.newUser();
    const phone = await a.login(user);
    const client = webSocketClient(urlB, phone);
    const subscription = await subscribeOverWebSocket(b, client, INVALIDATIONS);
    try {
      const [phoneId] = (await a.gql(SESSIONS, {}, { token: phone })).data.viewer.sessions.edges
        .map((edge: any) => edge.node)
        .filter((node: any) => node.current)
        .map((node: any) => node.id);
      expect((await a.gql(REVOKE, { id: phoneId }, { token: user.token })).data.revokeSession.errors).toEqual([]);
      const ended = await subscription.next().catch((error: unknown) => ({ errors: Array.isArray(error) ? error : [error] }));
      expect(ended.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await subscription.close();
      await client.dispose();
    }
  });

  it('keeps everyone logged in when Redis loses everything', async () => {
    const user = await a.newUser();
    await b.gql('{ viewer { id } }', {}, { token: user.token });
    const redis = new Redis(redisUrl!);
    try {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.unlink(...keys);
    } finally {
      redis.disconnect();
    }
    expect((await b.gql('{ viewer { id } }', {}, { token: user.token })).data.viewer.id).toBe(user.id);
    expect((await a.gql('{ viewer { id } }', {}, { token: user.token })).data.viewer.id).toBe(user.id);
  });

  it('deleteAccount asks for the password, then removes everything of the user from PostgreSQL and Redis, on both instances at once', async () => {
    const user = await a.newUser('Doomed Person');
    const { contextId, memoryIds } = await a.newMemories(user, ['secret memory one', 'secret memory two']);
    const other = await a.login(user);
    const key = await newKey(a, user.token);
    // Warm every kind of cached copy: entities, scores, responses, on both instances.
    for (const [t, url] of [[a, urlA], [b, urlB]] as const) {
      await post(url, other, { id: contextId });
      await t.gql('query ($c: ID!) { context(id: $c) { memories(first: 5) { edges { node { relevance { score } } } } } }', { c: contextId }, { token: other });
      await t.gql('{ viewer { email name } }', {}, { token: user.token });
      await post(url, key.secret, { id: contextId });
    }
    const subscription = await subscribeOverSse(b, urlB, other, INVALIDATIONS);
    try {
      const wrong = await a.gql(DELETE_ACCOUNT, { password: 'not the password' }, { token: user.token });
      expect(wrong.data.deleteAccount).toEqual({ userId: null, errors: [{ code: 'INVALID_CREDENTIALS', field: ['password'] }] });
      expect((await b.gql('{ viewer { id } }', {}, { token: other })).data.viewer.id).toBe(user.id);

      const deleted = await a.gql(DELETE_ACCOUNT, { password: TEST_PASSWORD }, { token: user.token });
      expect(deleted.data.deleteAccount).toEqual({ userId: user.id, errors: [] });
      for (const [t, url] of [[a, urlA], [b, urlB]] as const) {
        for (const token of [user.token, other, key.secret]) {
          expect((await t.gql('{ viewer { id } }', {}, { token })).status).toBe(401);
          expect((await post(url, token, { id: contextId })).status).toBe(401);
        }
      }
      expect((await subscription.next()).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    } finally {
      await subscription.close();
    }

    const rows = await a.database.db.query<{ count: number }>(
      `SELECT (SELECT count(*) FROM users WHERE id = $1) + (SELECT count(*) FROM sessions WHERE user_id = $1)
        + (SELECT count(*) FROM contexts WHERE owner_id = $1) + (SELECT count(*) FROM memories WHERE owner_id = $1)
        + (SELECT count(*) FROM memory_events WHERE owner_id = $1) + (SELECT count(*) FROM memory_access WHERE user_id = $1) AS count`,
      [user.id],
    );
    expect(Number(rows[0]!.count)).toBe(0);

    // Nothing in Redis holds the user's data. What stays, until it expires, are the guards of
    // what was deleted (opaque ids: "gone" markers and invalidation positions), and the
    // deletion's own events, which name only ids.
    const redis = new Redis(redisUrl!);
    try {
      const personal = [user.email, 'Doomed Person', 'secret memory'];
      const found: string[] = [];
      for (const key of await redis.keys(`${prefix}*`)) {
        const type = await redis.type(key);
        if (type === 'stream') {
          for (const [, fields] of (await redis.xrange(key, '-', '+')) as Array<[string, string[]]>) {
            const event = JSON.parse(fields[1]!);
            if (personal.some((needle) => fields[1]!.includes(needle))) found.push(`${key} holds ${fields[1]}`);
            if (event.ownerId === user.id && !['SESSION_ENDED', 'CONTEXT_DELETED', 'USER_DELETED'].includes(event.invalidation?.reason)) {
              found.push(`${key} keeps ${fields[1]}`);
            }
          }
          continue;
        }
        const value = type === 'string' ? ((await redis.get(key)) ?? '') : type === 'set' ? (await redis.smembers(key)).join(' ') : type;
        for (const needle of personal) if (`${key} ${value}`.includes(needle)) found.push(`${key} contains ${needle}`);
        const deletedId = [user.id, contextId, ...memoryIds].find((id) => `${key} ${value}`.includes(id));
        const guard = /:(entity|response)-pos:/.test(key) || /^\d+\|n\|/.test(value);
        if (deletedId && !guard) found.push(`${key} = ${value}`);
      }
      expect(found).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a user deleted by hand in SQL on every instance, once the outbox is replayed', async () => {
    const user = await a.newUser();
    const key = await newKey(a, user.token);
    for (const t of [a, b]) for (const token of [user.token, key.secret]) expect((await t.gql('{ viewer { id } }', {}, { token })).status).toBe(200);
    // As a DBA would: no API call, no writer to apply the change; the table's trigger records it.
    await a.database.db.query('DELETE FROM users WHERE id = $1', [user.id]);
    const refusedEverywhere = async () => {
      for (const t of [a, b]) for (const token of [user.token, key.secret]) if ((await t.gql('{ viewer { id } }', {}, { token })).status !== 401) return false;
      return true;
    };
    const deadline = Date.now() + 10_000;
    while (!(await refusedEverywhere())) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it('lets only admins delete another user', async () => {
    const user = await a.newUser();
    const target = await a.newUser();
    const refused = await a.gql('mutation ($id: ID!) { deleteUser(input: { id: $id }) { userId } }', { id: target.id }, { token: user.token });
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await a.database.db.query(`UPDATE users SET role = 'ADMIN', version = version + 1 WHERE id = $1`, [user.id]);
    const admin = await a.login(user);
    const done = await a.gql('mutation ($id: ID!) { deleteUser(input: { id: $id }) { userId errors { code } } }', { id: target.id }, { token: admin });
    expect(done.data.deleteUser).toEqual({ userId: target.id, errors: [] });
    expect((await b.gql('{ viewer { id } }', {}, { token: target.token })).status).toBe(401);
  });
});
