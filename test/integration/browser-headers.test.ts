import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { EXPOSED_HEADERS } from '../../src/http/header-policy.js';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const LIST = `query List($id: ID!) { context(id: $id) { name memories(first: 20) { edges { node { id content } } } } }`;
const APP_ORIGIN = 'http://app.example.test';
const OTHER_ORIGIN = 'http://evil.example.test';

/** The CORS answer a page on `origin` gets: what a browser checks before it hands the reply to the page. */
function expectCors(response: Response, origin = APP_ORIGIN) {
  expect(response.headers.get('access-control-allow-origin'), `CORS on ${response.status}`).toBe(origin);
  // A listed origin, named exactly, may send credentials.
  expect(response.headers.get('access-control-allow-credentials')).toBe('true');
  expect(response.headers.get('access-control-expose-headers')).toBe(EXPOSED_HEADERS);
  expect(response.headers.get('vary')).toBe('Origin, Authorization, Accept');
}

describe('one header policy on every path', () => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  let contextId: string;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', origin: APP_ORIGIN, ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    t = await createTestApp(backends()[0]!, { env: { CORS_ORIGINS: `${APP_ORIGIN}, http://localhost:5173`, MAX_BODY_BYTES: '4096', RATE_LIMIT_FREE_PER_WINDOW: '6' } });
    url = await listen(t);
    user = await t.newUser();
    contextId = (await t.gql('mutation { createContext(input: { name: "Web" }) { context { id } } }', {}, { token: user.token })).data.createContext.context.id;
  });
  afterAll(() => t.close());

  it('gives a miss, a cached hit from the front and its 304 the same CORS headers and Cache-Control', async () => {
    const auth = { authorization: `Bearer ${user.token}` };
    const miss = await post({ query: LIST, variables: { id: contextId } }, auth);
    const hit = await post({ query: LIST, variables: { id: contextId } }, auth);
    const notModified = await post({ query: LIST, variables: { id: contextId } }, { ...auth, 'if-none-match': hit.headers.get('etag')! });
    expect([miss.status, hit.status, notModified.status]).toEqual([200, 200, 304]);
    for (const response of [miss, hit, notModified]) {
      expectCors(response);
      expect(response.headers.get('cache-control')).toBe('private, no-cache');
      expect(response.headers.get('etag')).toBe(miss.headers.get('etag'));
      expect(response.headers.get('ratelimit-remaining')).toMatch(/^\d+$/);
    }
  });

  it('gives refusals the same CORS headers, in the accepted media type: 401, 413, 429', async () => {
    const unauthenticated = await post({ query: '{ viewer { id } }' }, { authorization: 'Bearer forged' });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    expectCors(unauthenticated);

    const tooLarge = await post({ query: `{ viewer { id } } # ${'x'.repeat(5000)}` });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    expectCors(tooLarge);

    const spender = await t.newUser();
    let limited: Response | undefined;
    for (let i = 0; i < 10 && limited?.status !== 429; i++) limited = await post({ query: '{ viewer { id } }' }, { authorization: `Bearer ${spender.token}` });
    expect(limited!.status).toBe(429);
    expectCors(limited!);
    expect(limited!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await limited!.json()) as any).errors[0].extensions.code).toBe('RATE_LIMITED');
  });

  it('gives yoga\'s own replies and other paths the policy too: GraphQL errors, GET, health', async () => {
    const invalid = await post({ query: '{ nope }' });
    expect(invalid.status).toBe(400);
    expectCors(invalid);
    const get = await fetch(`${url}?query=${encodeURIComponent('{ viewer { id } }')}`, { headers: { origin: APP_ORIGIN, accept: 'application/json' } });
    expect(get.status).toBe(200);
    expectCors(get);
    const health = await fetch(url.replace('/graphql', '/health'), { headers: { origin: APP_ORIGIN } });
    expectCors(health);
  });

  it('answers a preflight for an allowed origin, whatever headers the client sends', async () => {
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: APP_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, traceparent' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type, traceparent');
    expect(preflight.headers.get('access-control-max-age')).toBe('600');
  });

  it('gives an origin that is not listed no CORS answer, so its pages cannot read replies', async () => {
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    expect(preflight.headers.get('access-control-allow-methods')).toBeNull();
    const reply = await post({ query: '{ viewer { id } }' }, { origin: OTHER_ORIGIN });
    expect(reply.headers.get('access-control-allow-origin')).toBeNull();
    expect(reply.headers.get('access-control-allow-credentials')).toBeNull();
    expect(reply.headers.get('access-control-expose-headers')).toBeNull();
    expect(reply.headers.get('vary')).toBe('Origin, Authorization, Accept');
  });
});

describe('CORS for any origin (CORS_ORIGINS=*)', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(backends()[0]!);
    url = await listen(t);
  });
  afterAll(() => t.close());

  it('answers any origin with *, never reflecting it, and never allows credentials', async () => {
    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    const reply = await fetch(url, {
      method: 'POST',
      headers: { origin: OTHER_ORIGIN, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: '{ viewer { id } }' }),
    });
    expect([preflight.status, reply.status]).toEqual([204, 200]);
    for (const response of [preflight, reply]) {
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      expect(response.headers.get('access-control-expose-headers')).toBe(EXPOSED_HEADERS);
    }
    // The bearer token is a header the page sends itself, which a preflight must name.
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
  });
});

describe('CORS_ORIGINS', () => {
  it('takes * or a list of origins, and refuses what is not an origin', () => {
    expect(loadConfig({}).CORS_ORIGINS).toBe('*');
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual(['https://a.example.com', 'http://localhost:5173']);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://a.example.com/' })).toThrow(/not an origin/);
    expect(() => loadConfig({ CORS_ORIGINS: 'a.example.com' })).toThrow(/not an origin/);
  });
});
