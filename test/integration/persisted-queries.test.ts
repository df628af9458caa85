import { createHash } from 'node:crypto';
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { print } from 'graphql';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const CONTEXT = gql`
  query Context($id: ID!) {
    context(id: $id) {
      id
      name
    }
  }
`;
/** The text Apollo sends, and so the text its hash is of. */
const CONTEXT_TEXT = print(CONTEXT);

interface Sent {
  method: string;
  url: string;
  body: string | null;
  status: number;
}

/** Apollo Client 4 over real HTTP with automatic persisted queries; every request it sends is recorded. */
function apolloClient(url: string, token: string, options: { useGETForHashedQueries: boolean }) {
  const sent: Sent[] = [];
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    sent.push({ method: init?.method ?? 'GET', url: String(input), body: typeof init?.body === 'string' ? init.body : null, status: response.status });
    return response;
  };
  const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: options.useGETForHashedQueries });
  const http = new HttpLink({ uri: url, fetch: recordingFetch, headers: { authorization: `Bearer ${token}` } });
  const client = new ApolloClient({ link: ApolloLink.from([persisted, http]), cache: new InMemoryCache() });
  return { client, sent };
}

/** A raw request to the endpoint: GET with the parameters in the query string, or POST with them as JSON. */
async function send(url: string, method: 'GET' | 'POST', params: Record<string, unknown>, token: string, headers: Record<string, string> = {}) {
  const auth = { authorization: `Bearer ${token}`, accept: 'application/graphql-response+json', ...headers };
  if (method === 'GET') {
    const search = new URLSearchParams(
      Object.entries(params).map(([name, value]) => [name, typeof value === 'string' ? value : JSON.stringify(value)]),
    );
    return fetch(`${url}?${search}`, { headers: auth });
  }
  return fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(params) });
}

/** What requests read, without the outbox poll that runs in the background. */
const requestStatements = (statements: string[]) => statements.filter((statement) => !statement.includes('cache_outbox'));

const persistedQuery = (text: string) => ({ persistedQuery: { version: 1, sha256Hash: sha256(text) } });

describe.each(deployments())('automatic persisted queries ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  let contextId: string;

  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl } : {});
    url = await listen(t);
    user = await t.newUser();
    contextId = (await t.gql('mutation { createContext(input: { name: "Persisted" }) { context { id } } }', {}, { token: user.token })).data
      .createContext.context.id;
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  it.each([false, true])('runs Apollo PersistedQueryLink (GET for hashed queries: %s): the hash, then the text once, then the hash alone', async (useGET) => {
    const name = `APQ ${useGET ? 'GET' : 'POST'}`;
    const query = gql(`query Named${useGET ? 'Get' : 'Post'}($id: ID!) { context(id: $id) { id name description } }`);
    // A query no other test has registered: the first request cannot know its hash.
    const renamed = (await t.gql('mutation ($input: CreateContextInput!) { createContext(input: $input) { context { id } } }', { input: { name } }, { token: user.token }))
      .data.createContext.context.id;
    const first = apolloClient(url, user.token, { useGETForHashedQueries: useGET });
    const result = await first.client.query({ query, variables: { id: renamed } });
    expect(result.data).toEqual({ context: { __typename: 'Context', id: renamed, name, description: null } });
    // Apollo sent the hash alone, was told PERSISTED_QUERY_NOT_FOUND, and sent the text with its hash (always POST).
    expect(first.sent.map((request) => request.method)).toEqual([useGET ? 'GET' : 'POST', 'POST']);
    expect(first.sent[0]!.body ?? first.sent[0]!.url).not.toContain('description');
    expect(first.sent[1]!.body).toContain('description');

    // Another client (no shared cache): the hash alone is enough now.
    const second = apolloClient(url, user.token, { useGETForHashedQueries: useGET });
    const again = await second.client.query({ query, variables: { id: renamed } });
    expect(again.data).toEqual(result.data);
    expect(second.sent).toHaveLength(1);
    expect(second.sent[0]).toMatchObject({ method: useGET ? 'GET' : 'POST', status: 200 });
    expect(second.sent[0]!.body ?? second.sent[0]!.url).not.toContain('description');
  });

  it('answers an unknown hash PERSISTED_QUERY_NOT_FOUND (200, not to be stored by HTTP caches), over GET and POST, running nothing', async () => {
    const text = `query Unknown { viewer { id email } }`;
    for (const method of ['GET', 'POST'] as const) {
      const statements = await t.countStatements(async () => {
        const response = await send(url, method, { extensions: persistedQuery(text) }, user.token);
        expect(response.status).toBe(200);
        expect(response.headers.get('cache-control')).toBe('no-store');
        const body = await response.json();
        expect(body).toEqual({ errors: [{ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } }] });
      });
      expect(requestStatements(statements)).toEqual([]);
    }
  });

  it('refuses a text whose sha256 is not the hash sent with it (400), and registers nothing', async () => {
    const text = `query Mismatch { viewer { id } }`;
    const wrong = { persistedQuery: { version: 1, sha256Hash: sha256(`${text} `) } };
    const refused = await send(url, 'POST', { query: text, extensions: wrong }, user.token);
    expect(refused.status).toBe(400);
    const body = await refused.json();
    expect(body.data).toBeUndefined();
    expect(body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors[0].message).toMatch(/is not the sha256 of the query/);
    // Neither hash names the text now.
    for (const extensions of [wrong, persistedQuery(text)]) {
      const lookup = await (await send(url, 'POST', { extensions }, user.token)).json();
      expect(lookup.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    }
  });

  it.each([
    ['a version other than 1', { persistedQuery: { version: 2, sha256Hash: sha256('{ viewer { id } }') } }, /version must be 1/],
    ['a hash that is not 64 hex digits', { persistedQuery: { version: 1, sha256Hash: 'abc' } }, /64 digits/],
  ])('refuses %s with 400', async (_case, extensions, message) => {
    const response = await send(url, 'POST', { extensions }, user.token);
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.errors[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('registers only a text that ran: not one that fails validation, nor one refused by admission', async () => {
    const invalid = `query Invalid { viewer { nope } }`;
    const response = await send(url, 'POST', { query: invalid, extensions: persistedQuery(invalid) }, user.token);
    expect((await response.json()).errors[0].message).toMatch(/nope/);
    const lookup = await (await send(url, 'POST', { extensions: persistedQuery(invalid) }, user.token)).json();
    expect(lookup.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');

    const anonymousText = `query RefusedToken { viewer { id } }`;
    const refused = await send(url, 'POST', { query: anonymousText, extensions: persistedQuery(anonymousText) }, 'not-a-token');
    expect(refused.status).toBe(401);
    const after = await (await send(url, 'POST', { extensions: persistedQuery(anonymousText) }, user.token)).json();
    expect(after.errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('keys the response cache as the whole query: the hash over GET gets the cached response, its ETag and a 304', async () => {
    const variables = { id: contextId };
    // Cached by the whole query, sent the usual way (answered by yoga, stored).
    const whole = await send(url, 'POST', { query: CONTEXT_TEXT, variables }, user.token);
    const etag = whole.headers.get('etag')!;
    expect(etag).toBeTruthy();
    expect((await send(url, 'POST', { query: CONTEXT_TEXT, variables }, user.token)).headers.get('etag')).toBe(etag);
    // Registered (the registration is a response-cache hit, and counts as having run).
    await send(url, 'POST', { query: CONTEXT_TEXT, variables, extensions: persistedQuery(CONTEXT_TEXT) }, user.token);

    const statements = await t.countStatements(async () => {
      const short = await send(url, 'GET', { variables, extensions: persistedQuery(CONTEXT_TEXT) }, user.token);
      expect(short.status).toBe(200);
      expect(short.headers.get('etag')).toBe(etag);
      expect(short.headers.get('ratelimit-remaining')).toBeTruthy();
      expect((await short.json()).data).toEqual({ context: { id: contextId, name: 'Persisted' } });
      const revalidated = await send(url, 'GET', { variables, extensions: persistedQuery(CONTEXT_TEXT) }, user.token, { 'if-none-match': etag });
      expect(revalidated.status).toBe(304);
    });
    // Both answered from the response cache.
    expect(requestStatements(statements)).toEqual([]);
  });

  it('answers a known hash\'s cache hits before the GraphQL pipeline, as it does the whole query\'s', async () => {
    const variables = { id: contextId };
    const text = 'query FrontHit($id: ID!) { context(id: $id) { name } }';
    await send(url, 'POST', { query: text, variables, extensions: persistedQuery(text) }, user.token); // registered and cached
    const fastHits = (status: string) => t.metric('recall_response_cache_fast_path_hits_total', { status });
    const [ok, notModified] = [await fastHits('200'), await fastHits('304')];
    for (const method of ['GET', 'POST'] as const) {
      const hit = await send(url, method, { variables, extensions: persistedQuery(text) }, user.token);
      expect((await hit.json()).data).toEqual({ context: { name: 'Persisted' } });
      const revalidated = await send(url, method, { variables, extensions: persistedQuery(text) }, user.token, { 'if-none-match': hit.headers.get('etag')! });
      expect(revalidated.status).toBe(304);
    }
    expect([await fastHits('200'), await fastHits('304')]).toEqual([ok + 2, notModified + 2]);
    // What the front cannot serve is still yoga's: an unknown hash, and a text sent with its hash.
    const unknown = await send(url, 'GET', { extensions: persistedQuery('query Nobody { viewer { id } }') }, user.token);
    expect((await unknown.json()).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('spends the budget once per operation run, not for an unknown hash', async () => {
    const remaining = async (response: Response) => Number(response.headers.get('ratelimit-remaining'));
    const before = await remaining(await send(url, 'POST', { query: '{ viewer { id } }' }, user.token));
    const text = `query Spend { viewer { id name } }`;
    await send(url, 'POST', { extensions: persistedQuery(text) }, user.token);
    const registered = await send(url, 'POST', { query: text, extensions: persistedQuery(text) }, user.token);
    expect(await remaining(registered)).toBe(before - 1);
    expect(await remaining(await send(url, 'GET', { extensions: persistedQuery(text) }, user.token))).toBe(before - 2);
  });
});

it.runIf(inject('redisUrl'))('keeps registered texts in Redis under the key prefix, with a TTL, for every instance', async () => {
  const redisUrl = inject('redisUrl')!;
  const backend = backends().at(-1)!;
  const t = await createTestApp(backend, { redisUrl });
  const url = await listen(t);
  const user = await t.newUser();
  const text = `query Shared { viewer { id email } }`;
  await send(url, 'POST', { query: text, extensions: persistedQuery(text) }, user.token);
  const redis = new Redis(redisUrl);
  try {
    const key = t.cache.keys.persistedQuery(sha256(text));
    expect(key.startsWith(t.cache.keys.prefix)).toBe(true);
    expect(await redis.get(key)).toBe(text);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(86_000_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
  } finally {
    redis.disconnect();
  }
  // Another instance of the deployment (same Redis, same prefix) knows the hash it never saw.
  const other = await createTestApp(backend, { redisUrl, database: t.database, env: { REDIS_KEY_PREFIX: t.cache.keys.prefix } });
  try {
    const response = await other.app.yoga.fetch('http://recall.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ extensions: persistedQuery(text) }),
    });
    expect(await response.json()).toMatchObject({ data: { viewer: { id: user.id, email: user.email } } });
  } finally {
    await other.close();
  }
  t.app.server.closeAllConnections();
  await t.close();
});

it('with Redis unreachable, a hash is not found and the text sent with it still runs (Apollo Client)', async () => {
  const t = await createTestApp(backends().at(-1)!, { redisUrl: `redis://127.0.0.1:${await freePort()}` });
  try {
    const url = await listen(t);
    const user = await t.newUser();
    const { client, sent } = apolloClient(url, user.token, { useGETForHashedQueries: true });
    const result = await client.query({ query: gql`query Down { viewer { id } }` });
    expect(result.data).toEqual({ viewer: { __typename: 'User', id: user.id } });
    expect(sent.map((request) => [request.method, request.status])).toEqual([
      ['GET', 200],
      ['POST', 200],
    ]);
    expect(await t.metric('recall_cache_errors_total', { operation: 'apq-set' }) + (await t.metric('recall_cache_redis_skipped_total', { operation: 'apq-set' }))).toBeGreaterThan(0);
    t.app.server.closeAllConnections();
  } finally {
    await t.close();
  }
});
