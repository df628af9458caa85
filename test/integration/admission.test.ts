import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, overWebSocket, webSocketClient } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const modes = deployments();

const QUERY = JSON.stringify({ query: '{ viewer { id } }' });
const HEADERS = ['content-type', 'retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'www-authenticate'];

describe.each(modes)('one admission for every transport ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(backend, { ...(redisUrl ? { redisUrl } : {}), env: { RATE_LIMIT_FREE_PER_WINDOW: '3' } });
    url = await listen(t);
    // At the start of a budget window (the test clock stands still), so that nothing slides out.
    const windowMs = t.app.deps.config.RATE_LIMIT_WINDOW_SECONDS * 1000;
    t.clock.advance(windowMs - (t.clock.now().getTime() % windowMs));
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  /** The same request through yoga in process, and over HTTP, where the cached-hit front reads it first. */
  const both = async (token: string, accept: string) => {
    const init = { method: 'POST', headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${token}` }, body: QUERY };
    return [await t.app.yoga.fetch(url, init), await fetch(url, init)];
  };
  const reply = async (response: Response) => ({
    status: response.status,
    headers: Object.fromEntries(HEADERS.map((name) => [name, response.headers.get(name)])),
    body: await response.text(),
  });

  it('refuses a spent budget identically over yoga, the cached-hit front and WebSocket', async () => {
    const user = await t.newUser();
    for (let i = 0; i < 3; i++) expect((await t.gql('{ viewer { id } }', {}, { token: user.token })).status).toBe(200);

    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const [viaYoga, viaFront] = await both(user.token, accept);
      const expected = await reply(viaYoga!);
      expect(expected.status).toBe(429);
      expect(expected.headers).toMatchObject({ 'content-type': `${accept}; charset=utf-8`, 'ratelimit-limit': '3', 'ratelimit-remaining': '0' });
      expect(Number(expected.headers['retry-after'])).toBeGreaterThan(0);
      expect(await reply(viaFront!)).toEqual(expected);
    }

    const [viaYoga] = await both(user.token, 'application/json');
    const [error] = JSON.parse(await viaYoga!.text()).errors;
    expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
    const socket = webSocketClient(url, user.token);
    try {
      // graphql-ws ends a refused operation with its errors (an error message, not a result).
      const refused = await overWebSocket(socket, '{ viewer { id } }').catch((errors: unknown) => errors);
      expect(refused).toEqual([error]);
    } finally {
      await socket.dispose();
    }
  });

  it('refuses a bad token identically over yoga and the cached-hit front, each spending a point of the address', async () => {
    const forged = `rcs_${'A'.repeat(43)}`;
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const [viaYoga, viaFront] = await both(forged, accept);
      const expected = await reply(viaYoga!);
      expect(expected).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer', 'content-type': `${accept}; charset=utf-8` } });
      expect(JSON.parse(expected.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      // yoga.fetch has no socket, so its address differs from the front's: each has its own count.
      const remaining = { 'ratelimit-remaining': expect.stringMatching(/^[0-2]$/) };
      expect(expected.headers).toMatchObject(remaining);
      expect(await reply(viaFront!)).toEqual({ ...expected, headers: { ...expected.headers, ...remaining } });
    }
  });
});
