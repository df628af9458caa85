import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, overWebSocket, webSocketClient } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

/** NODE_ENV=production and nothing else about what it shows; a session secret, which production requires. */
const PRODUCTION = { NODE_ENV: 'production', SESSION_SECRET: randomBytes(32).toString('hex') };

const SCHEMA = '{ __schema { queryType { name } } }';
const TYPE = '{ __type(name: "User") { fields { name } } }';
const ADD = 'mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } } }';

async function newAdmin(t: TestApp): Promise<TestUser> {
  const admin = await t.newUser('Admin');
  await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
  return { ...admin, token: await t.login(admin) };
}

/** The messages of the errors a result carries (none: an empty list). */
const messages = (result: { errors?: Array<{ message: string }> }) => (result.errors ?? []).map((error) => error.message);

describe.each(deployments())('production defaults ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  let admin: TestUser;

  beforeAll(async () => {
    t = await createTestApp(backend, { env: PRODUCTION, ...(redisUrl ? { redisUrl } : {}) });
    url = await listen(t);
    [user, admin] = [await t.newUser(), await newAdmin(t)];
  });
  afterAll(() => t.close());

  /** A query over the real HTTP server (the cached-hit front, then yoga). */
  const overHttp = async (query: string, token?: string) => {
    const response = await fetch(url, {
      method: 'POST',
      // An admin sees whether the response cache answered.
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-recall-cache-debug': '1', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: any; errors?: Array<{ message: string; extensions: { code: string } }>; extensions?: any };
  };

  it('refuses introspection to anonymous callers and to users, with a clear error', async () => {
    for (const query of [SCHEMA, TYPE]) {
      for (const token of [undefined, user.token]) {
        const result = await t.gql(query, {}, token ? { token } : {});
        expect(result.status).toBe(400);
        expect(result.data).toBeUndefined();
        expect(result.errors).toHaveLength(1);
        expect(result.errors![0]!.message).toBe('Introspection is disabled: only admins may query __schema and __type (INTROSPECTION=admins).');
        expect(result.errors![0]!.extensions!['code']).toBe('FORBIDDEN');
      }
    }
    // __typename is no introspection of the schema: clients add it everywhere.
    expect((await t.gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  it('lets an admin introspect, never keeping the answer in the response cache; others are refused on every path', async () => {
    // What the cache does shows to an admin who asks (x-recall-cache-debug): a plain query is kept and hit.
    const contexts = '{ contexts(first: 1) { edges { cursor } } }';
    expect([(await overHttp(contexts, admin.token)).extensions.cache.hit, (await overHttp(contexts, admin.token)).extensions.cache.hit]).toEqual([false, true]);
    for (let i = 0; i < 2; i++) {
      const schema = await overHttp(SCHEMA, admin.token);
      expect(schema.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      const type = await overHttp(TYPE, admin.token);
      expect(type.data.__type.fields).toContainEqual({ name: 'email' });
      expect([schema.extensions?.cache, type.extensions?.cache]).toEqual([undefined, undefined]);
    }
    for (const token of [undefined, user.token]) {
      expect(messages(await overHttp(SCHEMA, token))).toEqual([expect.stringContaining('Introspection is disabled')]);
      expect(messages(await t.gql(TYPE, {}, token ? { token } : {}))).toEqual([expect.stringContaining('Introspection is disabled')]);
    }
  });

  it('refuses introspection over WebSocket too, except to an admin', async () => {
    const [anonymous, asAdmin] = [webSocketClient(url, null), webSocketClient(url, admin.token)];
    try {
      // graphql-ws ends an invalid operation with its errors (an error message, not a result).
      const refused = await overWebSocket(anonymous, SCHEMA).catch((errors: unknown) => errors);
      expect(refused).toEqual([expect.objectContaining({ message: expect.stringContaining('Introspection is disabled') })]);
      expect((await overWebSocket(asAdmin, SCHEMA)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      const misspelt = await overWebSocket(asAdmin, '{ viewer { nme } }').catch((errors: unknown) => errors);
      expect(misspelt).toEqual([expect.objectContaining({ message: 'Cannot query field "nme" on type "User".' })]);
    } finally {
      await Promise.all([anonymous.dispose(), asAdmin.dispose()]);
    }
  });

  it('suggests no names in errors: fields, arguments, input fields and enum values', async () => {
    const { contextId } = await t.newMemories(user, ['first']);
    const results = [
      await t.gql('{ viewer { nme } }', {}, { token: user.token }),
      await t.gql('{ contexts(firs: 1) { edges { cursor } } }', {}, { token: user.token }),
      await t.gql(ADD, { input: { contextId, items: [{ content: 'x', kind: 'FAC' }] } }, { token: user.token }),
      await t.gql(ADD, { input: { contxtId: contextId, items: [] } }, { token: user.token }),
      await overHttp('{ viewer { nme } }'),
    ];
    expect(results.map(messages)).toEqual([
      ['Cannot query field "nme" on type "User".'],
      ['Unknown argument "firs" on field "Query.contexts".'],
      [expect.stringMatching(/^Variable "\$input" got invalid value "FAC" at "input\.items\[0\]\.kind"; Value "FAC" does not exist in "MemoryKind" enum\.$/)],
      [expect.stringMatching(/Field "contextId" of required type "ID!" was not provided\.$/), expect.stringMatching(/Field "contxtId" is not defined by type "AddMemoriesInput"\.$/)],
      ['Cannot query field "nme" on type "User".'],
    ]);
    expect(JSON.stringify(results)).not.toContain('Did you mean');
  });

  it('serves no GraphiQL', async () => {
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
    expect(await page.text()).not.toContain('Welcome to Recall.');
  });
});

describe('what production shows, setting by setting', () => {
  const backend = backends()[0]!;
  const apps: TestApp[] = [];
  const app = async (env: Record<string, string>) => {
    const t = await createTestApp(backend, { env: { ...PRODUCTION, ...env } });
    apps.push(t);
    return t;
  };
  afterAll(() => Promise.all(apps.map((t) => t.close())));

  it('INTROSPECTION=off refuses admins too; INTROSPECTION=on lets anyone', async () => {
    const off = await app({ INTROSPECTION: 'off' });
    const admin = await newAdmin(off);
    expect(messages(await off.gql(SCHEMA, {}, { token: admin.token }))).toEqual(['Introspection is disabled (INTROSPECTION=off).']);
    const on = await app({ INTROSPECTION: 'on' });
    expect((await on.gql(SCHEMA)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('FIELD_SUGGESTIONS=true and GRAPHIQL=true bring them back', async () => {
    const t = await app({ FIELD_SUGGESTIONS: 'true', GRAPHIQL: 'true' });
    expect(messages(await t.gql('{ viewer { nme } }'))).toEqual(['Cannot query field "nme" on type "User". Did you mean "name"?']);
    const page = await t.app.yoga.fetch('http://recall.test/graphql', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Recall</title>');
  });
});
