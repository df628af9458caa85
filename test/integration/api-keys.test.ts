import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

const CREATE = `mutation ($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { secret apiKey { id name prefix scopes createdAt lastUsedAt expiresAt } errors { code message field } }
}`;
const REVOKE = `mutation ($id: ID!) { revokeApiKey(input: { id: $id }) { apiKey { id } errors { code message field } } }`;
const LIST = '{ viewer { id apiKeys { id name prefix scopes createdAt lastUsedAt expiresAt } } }';
const VIEWER = '{ viewer { id } }';
const READ = 'query ($id: ID!) { memory(id: $id) { content } }';
const ADD = `mutation ($c: ID!) { addMemories(input: { contextId: $c, items: [{ content: "written by a key" }] }) { memories { id } } }`;

type Scope = 'MEMORY_READ' | 'MEMORY_WRITE' | 'ADMIN';

/** A new key of the user (made with their session); its token and id. */
async function newKey(t: TestApp, user: TestUser, scopes: Scope[], extra: Record<string, unknown> = {}) {
  const created = await t.gql(CREATE, { input: { name: `key ${scopes.join('+')}`, scopes, ...extra } }, { token: user.token });
  const payload = created.data?.createApiKey;
  if (!payload?.secret) throw new Error(`createApiKey failed: ${JSON.stringify(created)}`);
  return { token: payload.secret as string, id: payload.apiKey.id as string, apiKey: payload.apiKey };
}

const codeOf = (result: { errors?: Array<{ extensions?: Record<string, any> }> }) => result.errors?.[0]?.extensions?.['code'];

/** Statements besides the outbox poll, which runs on its own timer. */
const requestStatements = (statements: string[]) => statements.filter((sql) => !sql.includes('cache_outbox'));

describe.each(deployments())('API keys ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  beforeAll(async () => {
    const env = { API_KEYS_MAX_PER_USER: '3' };
    t = await createTestApp(backend, redisUrl ? { redisUrl, env } : { env });
  });
  afterAll(() => t.close());

  it('returns the secret once: the list never shows it, and the database holds only its hash', async () => {
    const user = await t.newUser();
    const { token, id, apiKey } = await newKey(t, user, ['MEMORY_READ', 'MEMORY_WRITE']);
    expect(token).toMatch(/^rk_[0-9a-z]{12}_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({ name: 'key MEMORY_READ+MEMORY_WRITE', prefix: token.slice(3, 15), scopes: ['MEMORY_READ', 'MEMORY_WRITE'], lastUsedAt: null, expiresAt: null });
    const secret = token.slice(16);

    const listed = await t.gql(LIST, {}, { token: user.token });
    expect(listed.data.viewer.apiKeys).toEqual([apiKey]);
    expect(JSON.stringify(listed)).not.toContain(secret);

    const [row] = await t.database.db.query<Record<string, unknown>>('SELECT * FROM api_keys WHERE id = $1', [id]);
    expect(row!['secret_hash']).toBe(createHash('sha256').update(token).digest('hex'));
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('authenticates its user, and an ADMIN-scoped key manages keys as a session does', async () => {
    const user = await t.newUser();
    const admin = await newKey(t, user, ['ADMIN']);
    expect((await t.gql(VIEWER, {}, { token: admin.token })).data.viewer.id).toBe(user.id);
    // It spends its user's budget, and the budget's decision names the key that spent it.
    const spent = async (token: string) => {
      const response = await t.app.yoga.fetch('http://recall.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: VIEWER }),
      });
      return { remaining: Number(response.headers.get('ratelimit-remaining')), cost: ((await response.json()) as any).extensions.cost };
    };
    const byKey = await spent(admin.token);
    const bySession = await spent(user.token);
    expect(byKey.cost.apiKey).toBe(admin.apiKey.prefix);
    expect(bySession.cost.apiKey).toBeUndefined();
    expect(bySession.remaining).toBe(byKey.remaining - 1);
    const made = await t.gql(CREATE, { input: { name: 'made by a key', scopes: ['ADMIN'] } }, { token: admin.token });
    expect(made.data.createApiKey.errors).toEqual([]);
    const listed = await t.gql(LIST, {}, { token: admin.token });
    expect(listed.data.viewer.apiKeys.map((key: { name: string }) => key.name)).toEqual(['made by a key', 'key ADMIN']);
    // Its last use is shown (written back at most once a minute).
    expect(listed.data.viewer.apiKeys[1].lastUsedAt).not.toBeNull();
  });

  it('after warm-up, 100 requests with a key run no SQL for auth; its last use is written at most once a minute', async () => {
    const user = await t.newUser();
    const { token } = await newKey(t, user, ['MEMORY_READ']);
    expect((await t.gql(VIEWER, {}, { token })).data.viewer.id).toBe(user.id);
    const statements = await t.countStatements(async () => {
      for (let i = 0; i < 100; i++) expect((await t.gql(VIEWER, {}, { token })).data.viewer.id).toBe(user.id);
    });
    expect(requestStatements(statements)).toEqual([]);

    t.clock.advance(61_000);
    const touches = async () => (await t.countStatements(() => t.gql(VIEWER, {}, { token }))).filter((sql) => sql.startsWith('UPDATE api_keys')).length;
    expect(await touches()).toBe(1);
    expect(await touches()).toBe(0);
  });

  it('a MEMORY_READ key reads, but gets FORBIDDEN on addMemories and key management only, and writes nothing', async () => {
    const user = await t.newUser();
    const { contextId, memoryIds } = await t.newMemories(user, ['kept']);
    const { token } = await newKey(t, user, ['MEMORY_READ']);

    const added = await t.gql(ADD, { c: contextId }, { token });
    expect(added.status).toBe(200);
    expect(added.data).toEqual({ addMemories: null });
    expect(added.errors).toEqual([expect.objectContaining({ path: ['addMemories'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
    expect(await t.database.db.query('SELECT id FROM memories WHERE context_id = $1', [contextId])).toHaveLength(1);

    // In one operation: the field it may read resolves, the one it may not is null with FORBIDDEN.
    const mixed = await t.gql(`query ($id: ID!) { memory(id: $id) { content } viewer { id apiKeys { id } } }`, { id: memoryIds[0] }, { token });
    expect(mixed.data).toEqual({ memory: { content: 'kept' }, viewer: null });
    expect(mixed.errors).toEqual([expect.objectContaining({ path: ['viewer', 'apiKeys'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);

    const create = await t.gql(CREATE, { input: { name: 'escalate', scopes: ['ADMIN'] } }, { token });
    expect(codeOf(create)).toBe('FORBIDDEN');
    expect((await t.gql(LIST, {}, { token: user.token })).data.viewer.apiKeys).toHaveLength(1);

    // A MEMORY_WRITE key writes.
    const writer = await newKey(t, user, ['MEMORY_WRITE']);
    expect((await t.gql(ADD, { c: contextId }, { token: writer.token })).data.addMemories.memories).toHaveLength(1);
  });

  it('a MEMORY_WRITE key learns the ids and versions of what it writes, but reads nothing through a payload', async () => {
    const user = await t.newUser();
    const { contextId, memoryIds } = await t.newMemories(user, ['private thought']);
    const writer = await newKey(t, user, ['MEMORY_WRITE']);
    // A refused update answers with the memory as it is: its content must not come back (the
    // field is non-null, so the memory is null with the field's FORBIDDEN).
    const stale = await t.gql(
      'mutation ($id: ID!) { updateMemory(input: { id: $id, content: "x", expectedVersion: 99 }) { memory { id version content } errors { code } } }',
      { id: memoryIds[0] },
      { token: writer.token },
    );
    expect(stale.data.updateMemory.memory).toBeNull();
    expect(stale.errors).toEqual([expect.objectContaining({ path: ['updateMemory', 'memory', 'content'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
    const listed = await t.gql(
      'mutation ($c: ID!) { addMemories(input: { contextId: $c, items: [{ content: "new" }] }) { memories { id } context { id name memories { edges { node { content } } } } } }',
      { c: contextId },
      { token: writer.token },
    );
    expect(listed.data.addMemories.memories).toHaveLength(1);
    expect(listed.data.addMemories.context).toBeNull();
    expect(listed.errors?.map((error) => error.extensions?.['code'])).toContain('FORBIDDEN');
    expect(JSON.stringify(listed)).not.toContain('private thought');
    // Asked for its identity only, the write answers in full.
    const ids = await t.gql(
      'mutation ($c: ID!) { addMemories(input: { contextId: $c, items: [{ content: "newer" }] }) { memories { id version } context { id version } } }',
      { c: contextId },
      { token: writer.token },
    );
    expect(ids.errors).toBeUndefined();
    expect(ids.data.addMemories.context.id).toBe(contextId);
  });

  it('a key makes keys no broader and no longer-lived than itself', async () => {
    const user = await t.newUser();
    const expiresAt = new Date(t.clock.now().getTime() + 3_600_000).toISOString();
    const manager = await newKey(t, user, ['ADMIN'], { expiresAt });
    const broader = await t.gql(CREATE, { input: { name: 'broader', scopes: ['MEMORY_READ'], expiresAt } }, { token: manager.token });
    expect(broader.data.createApiKey.errors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', field: ['scopes'] })]);
    const forever = await t.gql(CREATE, { input: { name: 'forever', scopes: ['ADMIN'] } }, { token: manager.token });
    expect(forever.data.createApiKey.errors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', field: ['expiresAt'] })]);
    const within = await t.gql(CREATE, { input: { name: 'within', scopes: ['ADMIN'], expiresAt } }, { token: manager.token });
    expect(within.data.createApiKey.errors).toEqual([]);
    // A session makes any key its user may have.
    expect((await t.gql(CREATE, { input: { name: 'by session', scopes: ['MEMORY_READ'] } }, { token: user.token })).data.createApiKey.errors).toEqual([]);
  });

  it('refuses a subscription to a key without MEMORY_READ before it starts, and lets one with it subscribe', async () => {
    const user = await t.newUser();
    const subscribe = (token: string) =>
      t.app.yoga.fetch('http://recall.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: 'subscription { cacheInvalidated { reason } }' }),
      });
    const refused = await subscribe((await newKey(t, user, ['MEMORY_WRITE'])).token);
    // The stream carries the one error, then ends.
    const text = await refused.text();
    expect(text).toMatch(/"code":"FORBIDDEN"/);
    expect(text).toMatch(/MEMORY_READ/);

    const allowed = await subscribe((await newKey(t, user, ['MEMORY_READ'])).token);
    expect(allowed.status).toBe(200);
    const reader = allowed.body!.getReader();
    await t.gql('mutation { createContext(input: { name: "seen" }) { context { id } } }', {}, { token: user.token });
    let received = '';
    while (!received.includes('CONTEXT_CREATED')) received += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
  });

  it('never serves a response cached for the session to a key lacking a scope', async () => {
    const user = await t.newUser();
    const { memoryIds } = await t.newMemories(user, ['private']);
    const { token } = await newKey(t, user, ['MEMORY_WRITE']);
    for (let i = 0; i < 2; i++) expect((await t.gql(READ, { id: memoryIds[0] }, { token: user.token })).data.memory.content).toBe('private');

    const url = await listen(t);
    const overHttp = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: READ, variables: { id: memoryIds[0] } }),
    });
    const body = (await overHttp.json()) as { data: any; errors?: any[] };
    expect(body.data).toEqual({ memory: null });
    expect(body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const throughYoga = await t.gql(READ, { id: memoryIds[0] }, { token });
    expect(throughYoga.data).toEqual({ memory: null });
    expect(codeOf(throughYoga)).toBe('FORBIDDEN');
  });

  it('acts as an admin only with the ADMIN scope, and only when its user is one', async () => {
    const [owner, admin] = [await t.newUser(), await t.newUser()];
    const { memoryIds } = await t.newMemories(owner, ['not yours']);
    await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
    const promoted = { ...admin, token: await t.login(admin) };
    const read = async (token: string) => (await t.gql(READ, { id: memoryIds[0] }, { token })).data.memory;

    expect(await read(promoted.token)).toEqual({ content: 'not yours' });
    expect(await read((await newKey(t, promoted, ['MEMORY_READ', 'ADMIN'])).token)).toEqual({ content: 'not yours' });
    expect(await read((await newKey(t, promoted, ['MEMORY_READ'])).token)).toBeNull();
    // A plain user's ADMIN-scoped key gives no admin power.
    expect(await read((await newKey(t, owner, ['MEMORY_READ', 'ADMIN'])).token)).toEqual({ content: 'not yours' });
    const stranger = await t.newUser();
    expect(await read((await newKey(t, stranger, ['MEMORY_READ', 'ADMIN'])).token)).toBeNull();
  });

  it('refuses an expired key like a revoked one', async () => {
    const user = await t.newUser();
    const expiresAt = new Date(t.clock.now().getTime() + 3_600_000);
    const { token, apiKey } = await newKey(t, user, ['MEMORY_READ'], { expiresAt: expiresAt.toISOString() });
    expect(apiKey.expiresAt).toBe(expiresAt.toISOString());
    expect((await t.gql(VIEWER, {}, { token })).data.viewer.id).toBe(user.id);
    t.clock.advance(3_600_000);
    const expired = await t.gql(VIEWER, {}, { token });
    expect(expired.status).toBe(401);
    expect(expired.errors?.[0]?.message).toMatch(/invalid, expired or revoked/);
  });

  it('validates its input with field paths, and writes nothing', async () => {
    const user = await t.newUser();
    const past = new Date(t.clock.now().getTime() - 1).toISOString();
    const result = await t.gql(CREATE, { input: { name: 'x'.repeat(101), scopes: [], expiresAt: past } }, { token: user.token });
    expect(result.data.createApiKey).toMatchObject({ secret: null, apiKey: null });
    expect(result.data.createApiKey.errors.map((error: { field: string[] }) => error.field).sort()).toEqual([['expiresAt'], ['name'], ['scopes']]);
    expect(result.data.createApiKey.errors.every((error: { code: string }) => error.code === 'BAD_USER_INPUT')).toBe(true);
    expect(await t.database.db.query('SELECT id FROM api_keys WHERE user_id = $1', [user.id])).toEqual([]);
  });

  it('caps the live keys of a user (API_KEYS_MAX_PER_USER), and a revoked key makes room', async () => {
    const user = await t.newUser();
    const keys = [await newKey(t, user, ['MEMORY_READ']), await newKey(t, user, ['MEMORY_READ']), await newKey(t, user, ['MEMORY_READ'])];
    const refused = await t.gql(CREATE, { input: { name: 'one too many', scopes: ['MEMORY_READ'] } }, { token: user.token });
    expect(refused.data.createApiKey).toMatchObject({ secret: null, apiKey: null, errors: [{ code: 'CONFLICT' }] });
    expect(refused.data.createApiKey.errors[0].message).toMatch(/3 API keys.*revoke one/);
    expect((await t.gql(REVOKE, { id: keys[0]!.id }, { token: user.token })).data.revokeApiKey.errors).toEqual([]);
    expect((await newKey(t, user, ['MEMORY_READ'])).token).toMatch(/^rk_/);
  });

  it("treats another user's key id like an unknown one, and leaves that key working", async () => {
    const [owner, other] = [await t.newUser(), await t.newUser()];
    const { token, id } = await newKey(t, owner, ['MEMORY_READ']);
    const foreign = await t.gql(REVOKE, { id }, { token: other.token });
    const unknown = await t.gql(REVOKE, { id: id.slice(0, -4) + (id.endsWith('ZZZZ') ? 'YYYY' : 'ZZZZ') }, { token: other.token });
    expect(foreign.data.revokeApiKey).toEqual({ apiKey: null, errors: [{ code: 'NOT_FOUND', message: 'No ApiKey with this id.', field: ['id'] }] });
    expect(unknown.data.revokeApiKey).toEqual(foreign.data.revokeApiKey);
    expect((await t.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id }, { token: other.token })).data.node).toBeNull();
    expect((await t.gql(VIEWER, {}, { token })).data.viewer.id).toBe(owner.id);
  });

  it('refuses logout with an API key, which has no session, and keeps the key', async () => {
    const user = await t.newUser();
    const { token } = await newKey(t, user, ['MEMORY_READ', 'ADMIN']);
    const result = await t.gql('mutation { logout { sessionId errors { code message } } }', {}, { token });
    expect(result.data.logout).toEqual({ sessionId: null, errors: [{ code: 'FORBIDDEN', message: expect.stringMatching(/revokeApiKey/) }] });
    expect((await t.gql(VIEWER, {}, { token })).data.viewer.id).toBe(user.id);
  });
});

describe('the access log', () => {
  it("names a request's API key by its prefix, and never holds the token", async () => {
    const lines: string[] = [];
    const t = await createTestApp(backends()[0]!, { logLines: lines });
    try {
      const user = await t.newUser();
      const { memoryIds } = await t.newMemories(user, ['logged']);
      const { token, apiKey } = await newKey(t, user, ['MEMORY_READ']);
      const url = await listen(t);
      // Through yoga, then twice over HTTP: the second is answered by the cached-hit front.
      await t.gql(READ, { id: memoryIds[0] }, { token });
      for (let i = 0; i < 2; i++) {
        await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query: READ, variables: { id: memoryIds[0] } }),
        });
      }
      const requests = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['msg'] === 'request');
      const withKey = requests.filter((entry) => entry['apiKey'] === apiKey.prefix);
      expect(withKey.length).toBe(3);
      expect(withKey.some((entry) => entry['front'] === true)).toBe(true);
      expect(lines.join('\n')).not.toContain(token.slice(16));
      expect(lines.join('\n')).not.toContain(user.token.slice(4));
    } finally {
      t.app.server.closeAllConnections();
      await t.close();
    }
  });
});

describe.runIf(inject('redisUrl'))('revoking an API key across instances', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const shared = { redisUrl: inject('redisUrl')!, env: { REDIS_KEY_PREFIX: `recall-test:${Math.random().toString(36).slice(2)}:` } };
    a = await createTestApp(backends().at(-1)!, shared);
    b = await createTestApp(backends().at(-1)!, { ...shared, database: a.database });
  });
  afterAll(async () => {
    b.app.server.closeAllConnections();
    await b.close();
    await a.close();
  });

  it('on A: B refuses the key at once, for a query in its response cache too, through its cached-hit front as well', async () => {
    const user = await a.newUser();
    const { memoryIds } = await a.newMemories(user, ['cached on B']);
    const { token, id } = await newKey(a, user, ['MEMORY_READ']);
    const urlB = await listen(b);
    const readOnB = () =>
      fetch(urlB, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: READ, variables: { id: memoryIds[0] } }),
      });
    const hits = () => b.metric('recall_response_cache_fast_path_hits_total');
    // Warm: the key is in B's tiers, and the answer in B's response cache, served by its front.
    for (let i = 0; i < 3; i++) expect(((await (await readOnB()).json()) as { data: any }).data.memory.content).toBe('cached on B');
    const before = await hits();
    expect(((await (await readOnB()).json()) as { data: any }).data.memory.content).toBe('cached on B');
    expect(await hits()).toBeGreaterThan(before);

    expect((await a.gql(REVOKE, { id }, { token: user.token })).data.revokeApiKey).toEqual({ apiKey: { id }, errors: [] });

    const overHttp = await readOnB();
    expect(overHttp.status).toBe(401);
    expect(((await overHttp.json()) as { data?: unknown }).data).toBeFalsy();
    const throughYoga = await b.gql(READ, { id: memoryIds[0] }, { token });
    expect(throughYoga.status).toBe(401);
    expect((await a.gql(VIEWER, {}, { token })).status).toBe(401);
    // Gone from the list; the session itself still works.
    expect((await b.gql(LIST, {}, { token: user.token })).data.viewer.apiKeys).toEqual([]);
  });
});
