import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import {
  listen,
  newStream,
  openEventStream,
  overWebSocket,
  subscribeOverSse,
  subscribeOverWebSocket,
  until,
  webSocketClient,
} from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

const INVALIDATIONS = `subscription ($filter: CacheInvalidationFilter) {
  cacheInvalidated(filter: $filter) { id entities { typename id } reason occurredAt source contextId }
}`;
const MEMORY_EVENTS = `subscription ($id: ID!) {
  memoryEvents(contextId: $id) { id type memoryId version previousContent content actor { id } occurredAt }
}`;
const CREATE = `mutation ($n: String!) { createContext(input: { name: $n }) { context { id } } }`;
const ADD = `mutation ($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } } }`;
const DELETE = `mutation ($id: ID!) { deleteMemory(input: { id: $id }) { deletedMemoryId } }`;
const LIST = `query ($id: ID!) { context(id: $id) { memories { edges { node { id content } } } } }`;

const modes = deployments();

async function contextOf(t: TestApp, user: TestUser, name = 'Notes'): Promise<string> {
  return (await t.gql(CREATE, { n: name }, { token: user.token })).data.createContext.context.id;
}

async function addMemory(t: TestApp, user: TestUser, contextId: string, content: string): Promise<string> {
  return (await t.gql(ADD, { id: contextId, content }, { token: user.token })).data.addMemories.memories[0].id;
}

describe.each(modes)('subscriptions ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  let other: TestUser;
  let admin: TestUser;
  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl } : {});
    url = await listen(t);
    [user, other, admin] = [await t.newUser(), await t.newUser(), await t.newUser('Admin')];
    await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
    admin = { ...admin, token: await t.login(admin) };
  });
  afterAll(() => t.close());

  it('streams cacheInvalidated over SSE with the graphql-sse client', async () => {
    const contextId = await contextOf(t, user);
    const subscription = await subscribeOverSse(t, url, user.token, INVALIDATIONS);
    try {
      const memoryId = await addMemory(t, user, contextId, 'first');
      const { data, extensions } = await subscription.next();
      expect(extensions.eventId).toBe(data.cacheInvalidated.id);
      expect(data.cacheInvalidated).toMatchObject({
        reason: 'MEMORIES_ADDED',
        contextId,
        source: t.events.bus.source,
        entities: [
          { typename: 'Memory', id: memoryId },
          { typename: 'Context', id: contextId },
        ],
      });
      expect(data.cacheInvalidated.id).toMatch(/^\d+-\d+$/);
      expect(new Date(data.cacheInvalidated.occurredAt).getTime()).not.toBeNaN();
    } finally {
      await subscription.close();
    }
    await until(() => t.events.streams.size === 0);
  });

  it('streams memoryEvents over graphql-ws: added, updated, deleted', async () => {
    const contextId = await contextOf(t, user);
    const client = webSocketClient(url, user.token);
    const subscription = await subscribeOverWebSocket(t, client, MEMORY_EVENTS, { id: contextId });
    try {
      const memoryId = await addMemory(t, user, contextId, 'v1');
      await t.gql(UPDATE, { id: memoryId, content: 'v2' }, { token: user.token });
      await t.gql(DELETE, { id: memoryId }, { token: user.token });
      const events = [await subscription.next(), await subscription.next(), await subscription.next()];
      expect(events.map((event) => event.data.memoryEvents)).toMatchObject([
        { type: 'ADDED', memoryId, version: 1, previousContent: null, content: 'v1', actor: { id: user.id } },
        { type: 'UPDATED', memoryId, version: 2, previousContent: 'v1', content: 'v2', actor: { id: user.id } },
        { type: 'DELETED', memoryId, version: 2, previousContent: 'v2', content: null, actor: { id: user.id } },
      ]);
      // Each result carries the id to resume after.
      const eventIds = events.map((event) => event.extensions.eventId as string);
      expect(eventIds.every((id) => /^\d+-\d+$/.test(id))).toBe(true);
      expect([...eventIds].sort(byEventId)).toEqual(eventIds);
      // The same events as the memory's stored history.
      const history = await t.database.db.query<{ id: string }>(`SELECT id FROM memory_events WHERE memory_id = $1 ORDER BY version, id`, [memoryId]);
      expect(events.map((event) => event.data.memoryEvents.id).sort()).toEqual(history.map((row) => row.id).sort());
    } finally {
      await subscription.close();
      await client.dispose();
    }
  });

  it("gives each user only their own invalidations, and admins everyone's", async () => {
    const mine = await contextOf(t, user);
    const theirs = await contextOf(t, other);
    const userClient = webSocketClient(url, user.token);
    const forUser = await subscribeOverWebSocket(t, userClient, INVALIDATIONS);
    const forOther = await subscribeOverSse(t, url, other.token, INVALIDATIONS);
    const forAdmin = await subscribeOverSse(t, url, admin.token, INVALIDATIONS);
    try {
      await addMemory(t, other, theirs, 'not for user');
      await addMemory(t, user, mine, 'for user');
      expect((await forUser.next()).data.cacheInvalidated.contextId).toBe(mine);
      expect((await forOther.next()).data.cacheInvalidated.contextId).toBe(theirs);
      const seenByAdmin = [(await forAdmin.next()).data.cacheInvalidated.contextId, (await forAdmin.next()).data.cacheInvalidated.contextId];
      expect(seenByAdmin).toEqual([theirs, mine]);
      // The other user's next event is their own, not the user's.
      await addMemory(t, other, theirs, 'again');
      expect((await forOther.next()).data.cacheInvalidated.contextId).toBe(theirs);
    } finally {
      await Promise.all([forUser.close(), forOther.close(), forAdmin.close()]);
      await userClient.dispose();
    }
  });

  it('narrows cacheInvalidated by typenames, ids and contextId', async () => {
    const a = await contextOf(t, user, 'A');
    const b = await contextOf(t, user, 'B');
    const byContext = await subscribeOverSse(t, url, user.token, INVALIDATIONS, { filter: { contextId: b } });
    const byType = await subscribeOverSse(t, url, user.token, INVALIDATIONS, { filter: { typenames: ['Session'] } });
    try {
      const inA = await addMemory(t, user, a, 'in A');
      const byId = await subscribeOverSse(t, url, user.token, INVALIDATIONS, { filter: { ids: [inA] } });
      try {
        await addMemory(t, user, b, 'in B');
        await t.gql(UPDATE, { id: inA, content: 'in A, edited' }, { token: user.token });
        expect((await byContext.next()).data.cacheInvalidated).toMatchObject({ reason: 'MEMORIES_ADDED', contextId: b });
        expect((await byId.next()).data.cacheInvalidated).toMatchObject({ reason: 'MEMORY_UPDATED', contextId: a });
        const session = (await t.gql('{ viewer { id } }', {}, { token: user.token })).data.viewer.id;
        expect(session).toBe(user.id);
        const token = await t.login(user);
        await t.gql('mutation { logout { errors { code } } }', {}, { token });
        expect((await byType.next()).data.cacheInvalidated).toMatchObject({ reason: 'SESSION_ENDED', contextId: null });
      } finally {
        await byId.close();
      }
    } finally {
      await Promise.all([byContext.close(), byType.close()]);
    }
  });

  it('refuses foreign and unknown contexts, anonymous subscribers and bad tokens', async () => {
    const theirs = await contextOf(t, other);
    const foreign = await t.gql(MEMORY_EVENTS, { id: theirs }, { token: user.token });
    const unknown = await t.gql(MEMORY_EVENTS, { id: 'ctx_00000000000000000000000000' }, { token: user.token });
    expect(foreign.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect(unknown.errors).toEqual(foreign.errors);
    const filtered = await t.gql(INVALIDATIONS, { filter: { contextId: theirs } }, { token: user.token });
    expect(filtered.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    const anonymous = await t.gql(INVALIDATIONS);
    expect(anonymous.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');

    const badLastEventId = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${user.token}`, 'last-event-id': 'yesterday' },
      body: JSON.stringify({ query: INVALIDATIONS }),
    });
    expect(await badLastEventId.text()).toContain('Last-Event-ID must be');

    const refused = webSocketClient(url, 'rcs_not-a-real-token', { lazy: false });
    const closed = await new Promise<number>((resolve) => refused.on('closed', (event) => resolve((event as { code: number }).code)));
    expect(closed).toBe(4403);
    await refused.dispose();

    const anonymousWs = webSocketClient(url, null);
    const result = await overWebSocket(anonymousWs, INVALIDATIONS);
    expect(result.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    await anonymousWs.dispose();
    expect(t.events.streams.size).toBe(0);
  });

  it('lets go of a subscription whose client left before its response began', async () => {
    const contextId = await contextOf(t, user);
    const { streams } = t.events;
    const add = streams.add.bind(streams);
    let opened = 0;
    streams.add = (stream) => {
      opened += 1;
      return add(stream);
    };
    try {
      const controller = new AbortController();
      const response = t.app.yoga.fetch(url, {
        method: 'POST',
        signal: controller.signal,
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ query: MEMORY_EVENTS, variables: { id: contextId } }),
      });
      controller.abort(); // while the resolver is still looking the context up
      await Promise.resolve(response).then((r: Response) => r.body?.cancel(), () => undefined);
      await until(() => opened === 1 && streams.size === 0);
    } finally {
      streams.add = add;
    }
  });

  it('ends a subscription whose session was revoked, at its next event', async () => {
    const token = await t.login(user);
    const contextId = await contextOf(t, user);
    const stream = await openEventStream(url, { token, query: MEMORY_EVENTS, variables: { id: contextId } });
    try {
      await t.gql('mutation { logout { errors { code } } }', {}, { token });
      await addMemory(t, user, contextId, 'after logout');
      const ended = await stream.next();
      expect(JSON.parse(ended.data).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect((await stream.next()).event).toBe('complete');
    } finally {
      stream.close();
    }
  });

  it('replays what an SSE client missed when it reconnects with Last-Event-ID', async () => {
    const contextId = await contextOf(t, user);
    const opened = newStream(t);
    const first = await openEventStream(url, { token: user.token, query: MEMORY_EVENTS, variables: { id: contextId } });
    await opened;
    await addMemory(t, user, contextId, 'seen');
    const seen = await first.next();
    expect(seen.id).toMatch(/^\d+-\d+$/);
    expect(JSON.parse(seen.data).data.memoryEvents.content).toBe('seen');
    first.close();
    await until(() => t.events.streams.size === 0);

    await addMemory(t, user, contextId, 'missed 1');
    await addMemory(t, user, contextId, 'missed 2');
    const sse = { field: 'memoryEvents', transport: 'sse' };
    const [readBack, delivered] = [await t.metric('recall_events_replayed_total', sse), await t.metric('recall_events_delivered_total', sse)];
    const resumed = await openEventStream(url, { token: user.token, query: MEMORY_EVENTS, variables: { id: contextId }, lastEventId: seen.id! });
    try {
      const replayed = [await resumed.next(), await resumed.next()];
      expect(replayed.map((event) => JSON.parse(event.data).data.memoryEvents.content)).toEqual(['missed 1', 'missed 2']);
      // Every event kept since `seen` is read back (other contexts' too, then filtered out); two reach this subscriber.
      expect((await t.metric('recall_events_replayed_total', sse)) - readBack).toBeGreaterThanOrEqual(2);
      expect((await t.metric('recall_events_delivered_total', sse)) - delivered).toBe(2);
      await addMemory(t, user, contextId, 'live');
      const live = await resumed.next();
      expect(JSON.parse(live.data).data.memoryEvents.content).toBe('live');
      const ids = [seen.id!, ...replayed.map((event) => event.id!), live.id!];
      expect([...ids].sort(byEventId)).toEqual(ids);
    } finally {
      resumed.close();
    }
    // Over WebSocket, the id to resume after goes in the subscribe message's extensions.
    const client = webSocketClient(url, user.token);
    try {
      const iterator = client.iterate({ query: MEMORY_EVENTS, variables: { id: contextId }, extensions: { lastEventId: seen.id! } });
      const overWs = [(await iterator.next()).value, (await iterator.next()).value, (await iterator.next()).value];
      expect(overWs.map((result: any) => result.data.memoryEvents.content)).toEqual(['missed 1', 'missed 2', 'live']);
      await iterator.return?.();
    } finally {
      await client.dispose();
    }
  });

  it('tells a resuming client to resync when the events it missed are no longer kept', async () => {
    const contextId = await contextOf(t, user);
    const opened = newStream(t);
    const stream = await openEventStream(url, { token: user.token, query: INVALIDATIONS });
    await opened;
    await addMemory(t, user, contextId, 'before the gap');
    const last = await stream.next();
    stream.close();
    const max = t.app.deps.config.EVENT_STREAM_MAX_LENGTH;
    // More than the stream keeps (Redis trims whole nodes of 100 entries, so go well past it).
    const flood = Array.from({ length: max + 250 }, () => ({
      kind: 'invalidation' as const,
      ownerId: other.id,
      contextId: null,
      position: null,
      invalidation: { entities: [], reason: 'TEST', occurredAt: new Date(), source: 'test' },
    }));
    await t.events.bus.publish(flood);
    const resyncs = await t.metric('recall_events_resyncs_total', { field: 'cacheInvalidated', transport: 'sse' });
    const resumed = await openEventStream(url, { token: user.token, query: INVALIDATIONS, lastEventId: last.id! });
    try {
      const notice = JSON.parse((await resumed.next()).data).data.cacheInvalidated;
      expect(notice).toMatchObject({ reason: 'RESYNC', entities: [], id: last.id });
      expect((await t.metric('recall_events_resyncs_total', { field: 'cacheInvalidated', transport: 'sse' })) - resyncs).toBe(1);
    } finally {
      resumed.close();
    }
    // Whatever the replay limit: the client's own event is gone, so events after it may be too.
    expect((await t.events.bus.readAfter(last.id!, 1_000_000)).complete).toBe(false);
    const recent = (await t.events.bus.readAfter(last.id!, 1_000_000)).events.at(-2)!;
    expect((await t.events.bus.readAfter(recent.id, 1_000_000)).complete).toBe(true);
  });

  it('runs queries and mutations over graphql-ws with the response cache on', async () => {
    const contextId = await contextOf(t, user);
    const client = webSocketClient(url, user.token);
    try {
      const empty = await overWebSocket(client, LIST, { id: contextId });
      expect(empty).toEqual({ data: { context: { memories: { edges: [] } } } });
      expect(await overWebSocket(client, LIST, { id: contextId })).toEqual(empty);
      const added = await overWebSocket(client, ADD, { id: contextId, content: 'over ws' });
      expect(added.errors).toBeUndefined();
      const after = await overWebSocket(client, LIST, { id: contextId });
      expect(after.data.context.memories.edges.map((edge: any) => edge.node.content)).toEqual(['over ws']);
      // And over HTTP, which shares the cache.
      const overHttp = await t.gql(LIST, { id: contextId }, { token: user.token });
      expect(overHttp.data).toEqual(after.data);
    } finally {
      await client.dispose();
    }
  });

  it('ends WebSocket and SSE subscriptions as dropped connections when the server shuts down', async () => {
    const spare = await createTestApp(backend, redisUrl ? { redisUrl, database: t.database } : { database: t.database });
    const spareUrl = await listen(spare);
    const contextId = await contextOf(spare, user);
    const client = webSocketClient(spareUrl, user.token);
    const closed = new Promise<number>((resolve) => client.on('closed', (event) => resolve((event as { code: number }).code)));
    await subscribeOverWebSocket(spare, client, MEMORY_EVENTS, { id: contextId });
    const stream = await openEventStream(spareUrl, { token: user.token, query: INVALIDATIONS });
    await until(() => spare.events.streams.size === 2);
    await spare.app.endSubscriptions();
    expect(await closed).toBe(1001);
    // Cut (undici: "terminated"), not completed: EventSource and the SSE clients reconnect.
    await expect(stream.next()).rejects.toThrow(/terminated/);
    expect(spare.events.streams.size).toBe(0);
    await client.dispose();
    await spare.close();
  });
});

function byEventId(a: string, b: string): number {
  const [aMs, aSeq] = a.split('-').map(Number) as [number, number];
  const [bMs, bSeq] = b.split('-').map(Number) as [number, number];
  return aMs - bMs || aSeq - bSeq;
}

describe.runIf(inject('redisUrl'))('subscriptions across instances', () => {
  const redisUrl = inject('redisUrl')!;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const prefix = `recall-test:${Math.random().toString(36).slice(2)}:`;
    a = await createTestApp(backends().at(-1)!, { redisUrl, env: { REDIS_KEY_PREFIX: prefix } });
    b = await createTestApp(backends().at(-1)!, { redisUrl, env: { REDIS_KEY_PREFIX: prefix }, database: a.database });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it("delivers A's events to subscribers on B over SSE and graphql-ws, and B replays them", async () => {
    const urlB = await listen(b);
    const user = await a.newUser();
    const contextId = await contextOf(a, user);
    const sse = await subscribeOverSse(b, urlB, user.token, INVALIDATIONS, { filter: { contextId } });
    const client = webSocketClient(urlB, user.token);
    const ws = await subscribeOverWebSocket(b, client, MEMORY_EVENTS, { id: contextId });
    try {
      const memoryId = await addMemory(a, user, contextId, 'written on A');
      const invalidation = (await sse.next()).data.cacheInvalidated;
      expect(invalidation).toMatchObject({ reason: 'MEMORIES_ADDED', source: a.events.bus.source, contextId });
      expect((await ws.next()).data.memoryEvents).toMatchObject({ type: 'ADDED', memoryId, content: 'written on A' });

      // A client of A that lost its connection resumes on B from the same stream.
      await addMemory(a, user, contextId, 'missed');
      const resumed = await openEventStream(urlB, { token: user.token, query: INVALIDATIONS, lastEventId: invalidation.id });
      try {
        expect(JSON.parse((await resumed.next()).data).data.cacheInvalidated.reason).toBe('MEMORIES_ADDED');
      } finally {
        resumed.close();
      }
    } finally {
      await sse.close();
      await ws.close();
      await client.dispose();
    }
  });

  it('publishes nothing to Redis while it is unreachable, without failing the mutation, and still serves local subscribers', async () => {
    const t = await createTestApp(backends().at(-1)!, { redisUrl: `redis://127.0.0.1:${await freePort()}` });
    try {
      const url = await listen(t);
      const user = await t.newUser();
      const contextId = await contextOf(t, user);
      const subscription = await subscribeOverSse(t, url, user.token, MEMORY_EVENTS, { id: contextId });
      try {
        const added = await t.gql(ADD, { id: contextId, content: 'redis is down' }, { token: user.token });
        expect(added.errors).toBeUndefined();
        expect((await subscription.next()).data.memoryEvents.content).toBe('redis is down');
      } finally {
        await subscription.close();
      }
    } finally {
      await t.close();
    }
  });
});
