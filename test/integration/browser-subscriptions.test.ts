import { EventSource } from 'eventsource';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { listen, overWebSocket, until } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const INVALIDATIONS = 'subscription { cacheInvalidated { id reason contextId } }';
const CREATE = 'mutation ($n: String!) { createContext(input: { name: $n }) { context { id } } }';
const STREAM_TOKEN = 'x-graphql-event-stream-token';

/** Opens a graphql-ws connection with these connectionParams; resolves with the viewer's id, or the close code and reason. */
async function connectWith(url: string, connectionParams: Record<string, unknown>) {
  const client = createWsClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: false });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    client.on('closed', (event) => resolve({ code: (event as CloseEvent).code, reason: (event as CloseEvent).reason })),
  );
  const connected = new Promise<'connected'>((resolve) => client.on('connected', () => resolve('connected')));
  try {
    const outcome = await Promise.race([closed, connected]);
    if (outcome !== 'connected') return outcome;
    const result = await overWebSocket(client, '{ viewer { id } }');
    return { viewer: result.data?.viewer?.id ?? null };
  } finally {
    await client.dispose();
  }
}

/** An EventSource, as a browser has it (no headers), with what it receives and how it failed. */
function eventSource(url: string) {
  const source = new EventSource(url);
  const events: Array<{ type: string; data: string }> = [];
  source.addEventListener('next', (event) => events.push({ type: 'next', data: event.data }));
  source.addEventListener('complete', (event) => events.push({ type: 'complete', data: event.data }));
  const opened = new Promise<void>((resolve) => (source.onopen = () => resolve()));
  /** The readyState when the first error came: CLOSED (2) means it gave up; CONNECTING (0) that it reconnects. */
  const failed = new Promise<{ readyState: number; status: number | undefined }>((resolve) => {
    source.onerror = (error) => resolve({ readyState: source.readyState, status: (error as { code?: number }).code });
  });
  return { source, events, opened, failed };
}

/** PUT a reservation (graphql-sse's single-connection mode); resolves with the response. */
const reserve = (streamUrl: string, token: string | null, headers: Record<string, string> = {}) =>
  fetch(streamUrl, { method: 'PUT', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });

/** POST an operation to a reserved stream. */
const operate = (streamUrl: string, streamToken: string, token: string | null, operationId: string, query: string) =>
  fetch(streamUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      [STREAM_TOKEN]: streamToken,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, extensions: { operationId } }),
  });

describe.each(deployments())('browser subscriptions ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let streamUrl: string;
  let user: TestUser;
  let other: TestUser;
  beforeAll(async () => {
    t = await createTestApp(backend, { ...(redisUrl ? { redisUrl } : {}), env: { MAX_SUBSCRIPTIONS_PER_USER: '2' } });
    url = await listen(t);
    streamUrl = `${url}/stream`;
    [user, other] = [await t.newUser(), await t.newUser()];
  });
  afterAll(() => {
    t.app.server.closeAllConnections();
    return t.close();
  });

  describe('graphql-ws connectionParams', () => {
    it('reads Authorization, authorization, headers.Authorization, headers.authorization, authToken and token (bare or Bearer)', async () => {
      const bearer = `Bearer ${user.token}`;
      for (const params of [
        { Authorization: bearer },
        { authorization: bearer },
        { headers: { Authorization: bearer } },
        { headers: { authorization: bearer } },
        { authToken: user.token },
        { authToken: bearer },
        { token: user.token },
        { token: bearer },
        // The same credential twice is one credential.
        { authorization: bearer, token: user.token },
      ]) {
        expect(await connectWith(url, params), JSON.stringify(Object.keys(params))).toEqual({ viewer: user.id });
      }
    });

    it('connects as anonymous with no credential at all, or an empty one', async () => {
      for (const params of [{}, { clientName: 'web', lastEventId: '1-0' }, { authToken: null }, { authorization: '' }, { headers: {} }]) {
        expect(await connectWith(url, params)).toEqual({ viewer: null });
      }
    });

    it('refuses with 4403 and a reason anything else that looks like a credential, never taking it as anonymous', async () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [{ accessToken: user.token }, /connectionParams\.accessToken is not read/],
        [{ jwt: user.token }, /connectionParams\.jwt is not read/],
        [{ apiKey: 'rk_abc_def' }, /connectionParams\.apiKey is not read/],
        [{ headers: { 'X-Api-Key': 'rk_abc_def' } }, /connectionParams\.headers\.X-Api-Key is not read/],
        [{ Authorization: { token: user.token } }, /connectionParams\.Authorization must be a string/],
        [{ token: 42 }, /connectionParams\.token must be a string/],
        [{ auth: { token: user.token } }, /connectionParams\.auth is not read/],
        [{ headers: `Bearer ${user.token}` }, /connectionParams\.headers must be an object/],
        [{ authToken: user.token, token: other.token }, /Two different credentials/],
      ];
      for (const [params, reason] of cases) {
        const outcome = await connectWith(url, params);
        expect(outcome, JSON.stringify(params)).toMatchObject({ code: 4403 });
        expect((outcome as { reason: string }).reason).toMatch(reason);
      }
    });

    it('refuses a wrong token with 4403, as before, whatever shape carries it', async () => {
      for (const params of [{ token: 'rcs_not-a-real-token' }, { headers: { Authorization: 'Bearer rcs_not-a-real-token' } }]) {
        expect(await connectWith(url, params)).toEqual({ code: 4403, reason: 'The bearer token is invalid, expired or revoked.' });
      }
      expect(await connectWith(url, { Authorization: user.token })).toMatchObject({ code: 4403, reason: expect.stringMatching(/Bearer <token>/) });
    });
  });

  describe('graphql-sse single-connection mode', () => {
    it('streams cacheInvalidated to a headerless EventSource after a mutation by the same user', async () => {
      const reservation = await reserve(streamUrl, user.token);
      expect(reservation.status).toBe(201);
      const streamToken = await reservation.text();
      expect(streamToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const es = eventSource(`${streamUrl}?token=${streamToken}`);
      try {
        await es.opened;
        const subscribed = await operate(streamUrl, streamToken, user.token, 'inv', INVALIDATIONS);
        expect(subscribed.status).toBe(202);
        await until(() => t.events.streams.size === 1);
        const contextId = (await t.gql(CREATE, { n: 'From the browser' }, { token: user.token })).data.createContext.context.id;
        await until(() => es.events.length > 0);
        const { id, payload } = JSON.parse(es.events[0]!.data);
        expect(id).toBe('inv');
        expect(payload.data.cacheInvalidated).toMatchObject({ reason: 'CONTEXT_CREATED', contextId });
        expect(payload.extensions.eventId).toBe(payload.data.cacheInvalidated.id);
      } finally {
        es.source.close();
      }
      // Closing the EventSource ends the stream, its operations and their slots.
      await until(() => t.events.streams.size === 0);
    });

    it('works with the graphql-sse client in single-connection mode', async () => {
      const client = createSseClient({ url: streamUrl, singleConnection: true, headers: { authorization: `Bearer ${user.token}` }, retryAttempts: 0 });
      try {
        const viewer = await new Promise((resolve, reject) =>
          client.subscribe({ query: '{ viewer { id } }' }, { next: resolve, error: reject, complete: () => undefined }),
        );
        expect(viewer).toMatchObject({ data: { viewer: { id: user.id } } });
      } finally {
        client.dispose();
      }
    });

    it("binds a stream to its reservation's user: another user, or the token alone, runs nothing on it", async () => {
      const streamToken = await (await reserve(streamUrl, user.token)).text();
      const es = eventSource(`${streamUrl}?token=${streamToken}`);
      try {
        await es.opened;
        const asOther = await operate(streamUrl, streamToken, other.token, 'a', '{ viewer { id } }');
        expect(asOther.status).toBe(403);
        expect((await asOther.json()).errors[0].extensions.code).toBe('FORBIDDEN');
        const tokenAlone = await operate(streamUrl, streamToken, null, 'b', '{ viewer { id } }');
        expect(tokenAlone.status).toBe(403);
        const badCredential = await operate(streamUrl, streamToken, 'rcs_not-a-real-token', 'c', '{ viewer { id } }');
        expect(badCredential.status).toBe(401);
        // Nor can another user close its operations.
        const cancel = await fetch(`${streamUrl}?operationId=a`, { method: 'DELETE', headers: { [STREAM_TOKEN]: streamToken, authorization: `Bearer ${other.token}` } });
        expect(cancel.status).toBe(403);
        // A second stream on the same token is refused.
        const second = await fetch(`${streamUrl}?token=${streamToken}`, { headers: { accept: 'text/event-stream' } });
        expect(second.status).toBe(409);
        // The user's own operation runs, and its result arrives on the stream.
        expect((await operate(streamUrl, streamToken, user.token, 'mine', '{ viewer { id } }')).status).toBe(202);
        await until(() => es.events.some((event) => event.type === 'next'));
        expect(es.events.filter((event) => event.type === 'next').map((event) => JSON.parse(event.data))).toEqual([
          { id: 'mine', payload: expect.objectContaining({ data: { viewer: { id: user.id } } }) },
        ]);
      } finally {
        es.source.close();
      }
    });

    it('refuses a token the client makes up, and answers operations before the stream is open with 409', async () => {
      const proposed = await reserve(streamUrl, user.token, { [STREAM_TOKEN]: 'mine-and-predictable' });
      expect(proposed.status).toBe(400);
      const streamToken = await (await reserve(streamUrl, user.token)).text();
      const early = await operate(streamUrl, streamToken, user.token, 'x', INVALIDATIONS);
      expect(early.status).toBe(409);
      expect(t.events.streams.size).toBe(0);
    });

    it('answers an operation that does not parse or validate with 400 and the errors, as /graphql does', async () => {
      const streamToken = await (await reserve(streamUrl, user.token)).text();
      const es = eventSource(`${streamUrl}?token=${streamToken}`);
      try {
        await es.opened;
        for (const [query, code] of [
          ['subscription { nope }', 'GRAPHQL_VALIDATION_FAILED'],
          ['subscription {', 'GRAPHQL_PARSE_FAILED'],
        ] as const) {
          const reply = await operate(streamUrl, streamToken, user.token, code, query);
          expect(reply.status).toBe(400);
          const expected = await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` }, body: JSON.stringify({ query }) })).json();
          expect((await reply.json()).errors).toEqual(expected.errors);
          expect(expected.errors[0].extensions.code).toBe(code);
        }
        expect(es.events).toEqual([]);
      } finally {
        es.source.close();
      }
    });

    it('spends the budget for each operation, and holds the subscription cap', async () => {
      const capped = await t.newUser();
      const streamToken = await (await reserve(streamUrl, capped.token)).text();
      const es = eventSource(`${streamUrl}?token=${streamToken}`);
      try {
        await es.opened;
        const before = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${capped.token}` }, body: '{"query":"{ viewer { id } }"}' });
        const remainingBefore = Number(before.headers.get('ratelimit-remaining'));
        for (const id of ['s1', 's2', 's3']) expect((await operate(streamUrl, streamToken, capped.token, id, INVALIDATIONS)).status).toBe(202);
        // The third is over MAX_SUBSCRIPTIONS_PER_USER=2: its error arrives on the stream.
        await until(() => es.events.some((event) => event.type === 'next'));
        const refused = JSON.parse(es.events.find((event) => event.type === 'next')!.data);
        expect(refused.id).toBe('s3');
        expect(refused.payload.errors[0].extensions).toEqual({ code: 'RATE_LIMITED', limit: 2 });
        const after = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${capped.token}` }, body: '{"query":"{ viewer { id } }"}' });
        // Three subscriptions (each a point, the refused one too) and this query since `before`.
        expect(Number(after.headers.get('ratelimit-remaining'))).toBe(remainingBefore - 4);
      } finally {
        es.source.close();
      }
      await until(() => t.events.streams.size === 0);
    });

    it('ends its streams when the server shuts down (endSubscriptions)', async () => {
      const spare = await createTestApp(backend, redisUrl ? { redisUrl, database: t.database } : { database: t.database });
      try {
        const spareStream = `${await listen(spare)}/stream`;
        const streamToken = await (await reserve(spareStream, user.token)).text();
        const es = eventSource(`${spareStream}?token=${streamToken}`);
        await es.opened;
        await operate(spareStream, streamToken, user.token, 'inv', INVALIDATIONS);
        await until(() => spare.events.streams.size === 1);
        await spare.app.endSubscriptions();
        // Dropped: the EventSource tries again, and that token's stream is gone, so it stops.
        await until(() => spare.events.streams.size === 0);
        expect((await es.failed).readyState).toBe(EventSource.CONNECTING);
        await until(() => es.source.readyState === EventSource.CLOSED, 10_000);
        es.source.close();
      } finally {
        spare.app.server.closeAllConnections();
        await spare.close();
      }
    });
  });

  describe('an EventSource whose subscription fails stops, without reconnecting', () => {
    it('on /graphql: anonymous, invalid, and an unknown context get a JSON error with a status of 400 or more', async () => {
      const context = `ctx_${'0'.repeat(26)}`;
      for (const [query, status, code] of [
        [INVALIDATIONS, 401, 'UNAUTHENTICATED'],
        ['subscription { nope }', 400, 'GRAPHQL_VALIDATION_FAILED'],
        [`subscription { memoryEvents(contextId: "${context}") { id } }`, 401, 'UNAUTHENTICATED'],
      ] as const) {
        const es = eventSource(`${url}?query=${encodeURIComponent(query)}`);
        const failure = await es.failed;
        expect(failure).toEqual({ readyState: EventSource.CLOSED, status });
        expect(es.events).toEqual([]);
        const reply = await fetch(`${url}?query=${encodeURIComponent(query)}`, { headers: { accept: 'text/event-stream' } });
        expect(reply.status).toBe(status);
        expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
        expect((await reply.json()).errors[0].extensions.code).toBe(code);
      }
      // Signed in, an unknown context is NOT_FOUND, also as JSON with 400.
      const notFound = await fetch(`${url}?query=${encodeURIComponent(`subscription { memoryEvents(contextId: "${context}") { id } }`)}`, {
        headers: { accept: 'text/event-stream', authorization: `Bearer ${user.token}` },
      });
      expect(notFound.status).toBe(400);
      expect((await notFound.json()).errors[0].extensions.code).toBe('NOT_FOUND');
    });

    it('on the single-connection stream: a missing, unknown or ended token', async () => {
      for (const streamUrlWithToken of [streamUrl, `${streamUrl}?token=not-a-reservation`]) {
        const es = eventSource(streamUrlWithToken);
        expect(await es.failed).toEqual({ readyState: EventSource.CLOSED, status: 401 });
      }
      const reply = await fetch(`${streamUrl}?token=not-a-reservation`, { headers: { accept: 'text/event-stream' } });
      expect(reply.headers.get('content-type')).toMatch(/^application\/json/);
      expect((await reply.json()).errors[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringMatching(/reserve a new one/) });
    });
  });
});
