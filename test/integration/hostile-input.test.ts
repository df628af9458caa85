import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, overWebSocket, subscribeOverSse, until, webSocketClient } from '../helpers/subscriptions.js';
import { createTestApp, TEST_PASSWORD, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

/** `depth` nested lists as JSON text (JSON.stringify itself overflows on such a value). */
const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

const JSON_QUERY = 'query ($m: JSON) { viewer { id } }';
const SEARCH = 'query ($input: SearchMemoriesInput!) { searchMemories(input: $input) { edges { cursor node { id } } } }';
const SIGN_UP = 'mutation ($input: SignUpInput!) { signUp(input: $input) { token user { email } errors { code field } } }';
const LOGIN = 'mutation ($input: LoginInput!) { login(input: $input) { token errors { code field } } }';

const cursor = (parts: unknown[]): string => Buffer.from(JSON.stringify(parts)).toString('base64url');

/** WebSockets first: closeAllConnections does not see upgraded sockets, and close waits for them. */
async function close(t: TestApp): Promise<void> {
  await t.app.endSubscriptions();
  t.app.server.closeAllConnections();
  await new Promise<void>((resolve) => t.app.server.close(() => resolve()));
  await t.close();
}

describe.each(backends())('hostile input on %s', (backend) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;

  beforeAll(async () => {
    t = await createTestApp(backend);
    url = await listen(t);
    user = await t.newUser();
  });
  afterAll(() => close(t));

  const post = (body: string, token?: string) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body,
    });

  describe('deeply nested variables', () => {
    // Signed in, a POST goes through the cached-hit front first; anonymous, straight to yoga.
    it.each([
      [5_000, 'anonymous'],
      [5_000, 'signed in'],
      [100_000, 'anonymous'],
      [100_000, 'signed in'],
    ])('answers %i levels over POST (%s) with 400 naming the limit', async (depth, who) => {
      const body = `{"query":${JSON.stringify(JSON_QUERY)},"variables":{"m":${nested(depth)}}}`;
      expect(body.length).toBeLessThan(t.app.deps.config.MAX_BODY_BYTES);
      const response = await post(body, who === 'signed in' ? user.token : undefined);
      expect(response.status).toBe(400);
      expect((await response.json()).errors).toEqual([
        { message: 'Variable "$m" is nested deeper than 32 levels (MAX_VARIABLE_DEPTH).', extensions: { code: 'BAD_USER_INPUT' } },
      ]);
    });

    it('answers 5,000 levels over GET with 400, and 100,000 (over the header limit) with 431', async () => {
      const get = (depth: number) =>
        fetch(`${url}?query=${encodeURIComponent(JSON_QUERY)}&variables={"m":${nested(depth)}}`, {
          headers: { accept: 'application/graphql-response+json', authorization: `Bearer ${user.token}` },
        });
      const deep = await get(5_000);
      expect(deep.status).toBe(400);
      expect((await deep.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');
      expect((await get(100_000)).status).toBe(431);
    });

    it('stores a variable exactly MAX_VARIABLE_DEPTH deep, and refuses one a level deeper', async () => {
      const { contextId } = await t.newMemories(user, []);
      const add = (depth: number) =>
        post(
          JSON.stringify({
            query: 'mutation ($c: ID!, $m: JSON) { addMemories(input: { contextId: $c, items: [{ content: "deep", metadata: $m }] }) { memories { metadata } } }',
            variables: { c: contextId, m: JSON.parse(nested(depth)) },
          }),
          user.token,
        );
      const atLimit = await add(32);
      expect(atLimit.status).toBe(200);
      expect(((await atLimit.json()) as { data: unknown }).data).toEqual({ addMemories: { memories: [{ metadata: JSON.parse(nested(32)) }] } });
      const over = await add(33);
      expect(over.status).toBe(400);
      expect((await over.json()).errors[0].message).toBe('Variable "$m" is nested deeper than 32 levels (MAX_VARIABLE_DEPTH).');
    });

    it.each([5_000, 100_000])('ends a WebSocket operation %i levels deep with an error, and the socket serves the next one', async (depth) => {
      const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
      const messages: Array<{ id?: string; type: string; payload?: any }> = [];
      let closed: number | null = null;
      socket.on('message', (data) => messages.push(JSON.parse(String(data))));
      socket.on('close', (code) => (closed = code));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } }));
      await until(() => messages.some((message) => message.type === 'connection_ack'));

      // Sent as text: the graphql-ws client would overflow its own stack serialising it.
      socket.send(`{"id":"deep","type":"subscribe","payload":{"query":${JSON.stringify(JSON_QUERY)},"variables":{"m":${nested(depth)}}}}`);
      socket.send(JSON.stringify({ id: 'next', type: 'subscribe', payload: { query: '{ viewer { id } }' } }));
      await until(() => messages.some((message) => message.id === 'next' && message.type === 'complete'));
      socket.close();

      expect(closed).toBeNull();
      expect(messages.find((message) => message.id === 'deep')).toMatchObject({
        type: 'error',
        payload: [{ message: 'Variable "$m" is nested deeper than 32 levels (MAX_VARIABLE_DEPTH).', extensions: { code: 'BAD_USER_INPUT' } }],
      });
      expect(messages.find((message) => message.id === 'next' && message.type === 'next')?.payload).toEqual({ data: { viewer: { id: user.id } } });
    });
  });

  describe('forged cursors', () => {
    let contextId: string;
    let memoryId: string;

    beforeAll(async () => {
      const created = await t.newMemories(user, ['alpha one', 'alpha two', 'alpha three']);
      contextId = created.contextId;
      memoryId = created.memoryIds[0]!;
    });

    const search = (after: string) => t.gql(SEARCH, { input: { contextId, query: 'alpha', first: 1, after } }, { token: user.token });

    it('pages with the cursors it hands out', async () => {
      const page = await t.gql(SEARCH, { input: { contextId, query: 'alpha', first: 1 } }, { token: user.token });
      const next = await search(page.data.searchMemories.edges[0].cursor);
      expect(next.errors).toBeUndefined();
      expect(next.data.searchMemories.edges).toHaveLength(1);
    });

    it.each([
      ['a scoring instant past what PostgreSQL stores', () => [0.5, memoryId, 8.64e15]],
      ['a scoring instant before 1970', () => [0.5, memoryId, -1e14]],
      ['a scoring instant JavaScript cannot hold', () => [0.5, memoryId, 8.64e15 + 1]],
      ['a fractional instant', () => [0.5, memoryId, 1.5]],
      ['a score above 1', () => [1e308, memoryId, Date.now()]],
      ['a negative score', () => [-0.5, memoryId, Date.now()]],
      ['a string for a number', () => ['0.5', memoryId, Date.now()]],
      ['an id of another kind', () => [0.5, contextId, Date.now()]],
      ['a short tuple', () => [0.5, memoryId]],
    ])('refuses a search cursor with %s as BAD_USER_INPUT on after', async (_, parts) => {
      const result = await search(cursor(parts()));
      expect(result.data).toEqual({ searchMemories: null });
      expect(result.errors).toMatchObject([{ path: ['searchMemories'], extensions: { code: 'BAD_USER_INPUT', field: ['after'] } }]);
    });

    it('accepts search cursors at the edges of the range', async () => {
      for (const parts of [[0, memoryId, 0], [1, memoryId, Date.UTC(9999, 11, 31, 23, 59, 59, 999)]]) {
        const result = await search(cursor(parts));
        expect(result.errors).toBeUndefined();
      }
    });

    it.each([
      ['contexts', 'query ($after: String) { contexts(after: $after) { edges { cursor } } }', ['contexts']],
      [
        'Context.memories',
        'query ($id: ID!, $after: String) { context(id: $id) { memories(after: $after) { edges { cursor } } } }',
        ['context', 'memories'],
      ],
    ])('refuses forged %s cursors as BAD_USER_INPUT on after', async (_, query, path) => {
      for (const after of [cursor([1e308]), cursor([memoryId.replace('mem', 'ctx'), 1]), cursor(['x']), 'not a cursor', '']) {
        const result = await t.gql(query, { id: contextId, after }, { token: user.token });
        expect(result.errors).toMatchObject([{ path, extensions: { code: 'BAD_USER_INPUT', field: ['after'] } }]);
      }
    });
  });

  describe('email addresses', () => {
    it('refuses a domain label of 180 characters at signUp', async () => {
      const result = await t.gql(SIGN_UP, { input: { email: `ann@${'a'.repeat(180)}.com`, password: TEST_PASSWORD } });
      expect(result.data.signUp).toEqual({ token: null, user: null, errors: [{ code: 'BAD_USER_INPUT', field: ['email'] }] });
    });

    it('signs up and logs in with an internationalised domain', async () => {
      const email = `zoë.${Date.now()}@bücher.example`;
      const signedUp = await t.gql(SIGN_UP, { input: { email, password: TEST_PASSWORD } });
      expect(signedUp.data.signUp).toMatchObject({ token: expect.any(String), user: { email }, errors: [] });
      const loggedIn = await t.gql(LOGIN, { input: { email, password: TEST_PASSWORD } });
      expect(loggedIn.data.login).toMatchObject({ token: expect.any(String), errors: [] });
    });

    it('answers a login with an invalid address as invalid credentials', async () => {
      const result = await t.gql(LOGIN, { input: { email: `ann@${'a'.repeat(180)}.com`, password: TEST_PASSWORD } });
      expect(result.data.login).toEqual({ token: null, errors: [{ code: 'INVALID_CREDENTIALS', field: null }] });
    });
  });
});

/** A raw TCP client: what was received, and when (and whether) the server closed it. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; closedAt: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset shows as the close below
    const closedAt = new Promise<number>((done) => socket.once('close', () => done(performance.now())));
    socket.once('connect', () => resolve({ socket, received: () => received, closedAt }));
    socket.once('error', reject);
  });
}

describe('slow requests and many sockets', () => {
  const TIMEOUT_MS = 500;
  let t: TestApp;
  let url: string;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp('pglite', { env: { REQUEST_BODY_TIMEOUT_MS: String(TIMEOUT_MS) } });
    url = await listen(t);
    port = Number(new URL(url).port);
  });
  afterAll(() => close(t));

  it.each([
    ['a body that stops half-way', 'application/json', '{"query":"{ viewer'],
    ['a body that stops half-way (not JSON, so not read by the cached-hit front)', 'application/graphql', '{ viewer'],
  ])('answers %s with 408 and closes the socket within the timeout', async (_, contentType, part) => {
    const client = await rawClient(port);
    const sentAt = performance.now();
    // The CSRF header lets application/graphql be read (without it, it is refused before that).
    client.socket.write(`POST /graphql HTTP/1.1\r\nHost: recall\r\nContent-Type: ${contentType}\r\nX-GraphQL-Yoga-CSRF: 1\r\nContent-Length: 1000\r\n\r\n${part}`);
    const elapsed = (await client.closedAt) - sentAt;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS * 1.1 + 250);
  });

  it('answers headers that stop half-way with 408 within the timeout', async () => {
    const client = await rawClient(port);
    const sentAt = performance.now();
    client.socket.write('GET /livez HTTP/1.1\r\nHost: recall\r\n');
    const elapsed = (await client.closedAt) - sentAt;
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeLessThan(TIMEOUT_MS * 1.1 + 250);
  });

  it('keeps SSE subscriptions and WebSockets open longer than the timeout', async () => {
    const user = await t.newUser();
    const { contextId } = await t.newMemories(user, []);
    const sse = await subscribeOverSse(t, url, user.token, 'subscription ($id: ID!) { memoryEvents(contextId: $id) { type content } }', { id: contextId });
    const ws = webSocketClient(url, user.token, { lazy: false });
    let wsClosed = false;
    ws.on('closed', () => (wsClosed = true));
    try {
      await overWebSocket(ws, '{ viewer { id } }');
      // Three timeouts go by with both connections idle: a real wait, as node's timer is what is tested.
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS * 3));
      await t.gql('mutation ($c: ID!) { addMemories(input: { contextId: $c, items: [{ content: "late" }] }) { memories { id } } }', { c: contextId }, { token: user.token });
      expect(await sse.next()).toMatchObject({ data: { memoryEvents: { type: 'ADDED', content: 'late' } } });
      expect(await overWebSocket(ws, '{ viewer { id } }')).toEqual({ data: { viewer: { id: user.id } } });
      expect(wsClosed).toBe(false);
    } finally {
      await sse.close();
      await ws.dispose();
    }
  });
});

describe('MAX_CONNECTIONS', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp('pglite', { env: { MAX_CONNECTIONS: '2' } });
    port = Number(new URL(await listen(t)).port);
  });
  afterAll(() => close(t));

  async function untilConnections(count: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const open = await new Promise<number>((resolve, reject) => t.app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
      if (open === count) return;
      if (Date.now() > deadline) throw new Error(`${open} connections open, not ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('closes sockets past the limit at once, and accepts again when one closes', async () => {
    expect(t.app.server.maxConnections).toBe(2);
    const held = [await rawClient(port), await rawClient(port)];
    await untilConnections(2);

    const refused = await rawClient(port);
    refused.socket.write('GET /livez HTTP/1.1\r\nHost: recall\r\n\r\n');
    await refused.closedAt;
    expect(refused.received()).toBe('');

    held[0]!.socket.destroy();
    await untilConnections(1);
    const live = await fetch(`http://127.0.0.1:${port}/livez`);
    expect(live.status).toBe(200);
    held[1]!.socket.destroy();
  });
});
