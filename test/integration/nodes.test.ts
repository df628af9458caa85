import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, TEST_PASSWORD, type TestApp, type TestUser } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const NODE = `query ($id: ID!) {
  node(id: $id) {
    __typename id
    ... on User { email }
    ... on Context { name }
    ... on Memory { content version }
    ... on Session { expiresAt }
    ... on MemoryEvent { type memoryId }
    ... on RelevanceScore { score memory { id } context { id } }
  }
}`;
const NODES = `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Memory { content } ... on Context { name } } }`;
const LOGIN = `mutation ($input: LoginInput!) { login(input: $input) { token session { id } } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } } }`;

interface Owned {
  user: TestUser;
  sessionId: string;
  contextId: string;
  memoryIds: string[];
  eventId: string;
  scoreId: string;
}

describe.each(deployments())('Relay nodes ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let ann: Owned;
  let bob: Owned;
  let admin: TestUser;

  /** A user with a fresh session (its id known), a context of memories, an event and a score. */
  const owner = async (name: string, contents: string[]): Promise<Owned> => {
    const user = await t.newUser(name);
    const login = await t.gql(LOGIN, { input: { email: user.email, password: TEST_PASSWORD } });
    const { token, session } = login.data.login;
    const signedIn = { ...user, token };
    const { contextId, memoryIds } = await t.newMemories(signedIn, contents);
    const read = await t.gql(
      'query ($m: ID!, $c: ID!) { memory(id: $m) { history { id } relevance(contextId: $c) { id } } }',
      { m: memoryIds[0], c: contextId },
      { token },
    );
    const { history, relevance } = read.data.memory;
    return { user: signedIn, sessionId: session.id, contextId, memoryIds, eventId: history[0].id, scoreId: relevance.id };
  };

  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl } : {});
    ann = await owner('Ann', ['tea in kyoto', 'ramen in tokyo']);
    bob = await owner('Bob', ['fjords near bergen']);
    const made = await t.newUser('Admin');
    await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [made.id]);
    admin = { ...made, token: await t.login(made) };
  });
  afterAll(() => t.close());

  const node = async (id: string, viewer: TestUser) => {
    const result = await t.gql(NODE, { id }, { token: viewer.token });
    expect(result.errors).toBeUndefined();
    return result.data.node;
  };

  it('fetches each kind of node by its id, as the fields that gave the id show it', async () => {
    const { user, sessionId, contextId, memoryIds, eventId, scoreId } = ann;
    expect(await node(user.id, user)).toEqual({ __typename: 'User', id: user.id, email: user.email });
    expect(await node(contextId, user)).toEqual({ __typename: 'Context', id: contextId, name: 'Test' });
    expect(await node(memoryIds[0]!, user)).toEqual({ __typename: 'Memory', id: memoryIds[0], content: 'tea in kyoto', version: 1 });
    expect(await node(sessionId, user)).toEqual({ __typename: 'Session', id: sessionId, expiresAt: expect.any(String) });
    expect(await node(eventId, user)).toEqual({ __typename: 'MemoryEvent', id: eventId, type: 'ADDED', memoryId: memoryIds[0] });
    const score = await node(scoreId, user);
    expect(score).toEqual({ __typename: 'RelevanceScore', id: scoreId, score: expect.any(Number), memory: { id: memoryIds[0] }, context: { id: contextId } });
    const direct = await t.gql('query ($m: ID!, $c: ID!) { memory(id: $m) { relevance(contextId: $c) { score } } }', { m: memoryIds[0], c: contextId }, { token: user.token });
    expect(score.score).toBe(direct.data.memory.relevance.score);
  });

  it('answers null for a foreign id exactly as for an unknown or malformed one', async () => {
    const foreign = [bob.user.id, bob.sessionId, bob.contextId, bob.memoryIds[0]!, bob.eventId, bob.scoreId];
    const unknown = ['usr_01JD3AAAAAAAAAAAAAAAAAAAAA', 'ctx_01JD3AAAAAAAAAAAAAAAAAAAAA', 'mem_01JD3AAAAAAAAAAAAAAAAAAAAA', 'ses_01JD3AAAAAAAAAAAAAAAAAAAAA', 'evt_01JD3AAAAAAAAAAAAAAAAAAAAA'];
    const malformed = ['', 'mem_', 'nonsense', 'MemoryConnection:x', Buffer.from(`RelevanceScore:${bob.user.id}`).toString('base64url')];
    for (const id of [...foreign, ...unknown, ...malformed]) expect({ id, node: await node(id, ann.user) }).toEqual({ id, node: null });
    // Memory.relevance names the viewer in a score's id: Bob's score of Ann's memory is not Ann's.
    const forged = Buffer.from(`RelevanceScore:${bob.user.id}:${ann.contextId}:${ann.memoryIds[0]}`).toString('base64url');
    expect(await node(forged, ann.user)).toBeNull();
  });

  it('refuses an anonymous caller as memory(id) does', async () => {
    const result = await t.gql(NODE, { id: ann.memoryIds[0] });
    expect(result.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('shows admins every node', async () => {
    for (const id of [bob.user.id, bob.sessionId, bob.contextId, bob.memoryIds[0]!, bob.eventId, bob.scoreId]) {
      expect((await node(id, admin))?.id).toBe(id);
    }
  });

  it('shows no ended session', async () => {
    const extra = await t.gql(LOGIN, { input: { email: bob.user.email, password: TEST_PASSWORD } });
    const { token, session } = extra.data.login;
    expect((await node(session.id, bob.user))?.id).toBe(session.id);
    await t.gql('mutation { logout { sessionId } }', {}, { token });
    expect(await node(session.id, bob.user)).toBeNull();
    expect(await node(session.id, admin)).toBeNull();
  });

  it('fetches many nodes in order, with null for what the viewer may not see', async () => {
    const ids = [ann.memoryIds[1]!, bob.memoryIds[0]!, ann.contextId, 'nonsense', ann.memoryIds[0]!, bob.contextId];
    const result = await t.gql(NODES, { ids }, { token: ann.user.token });
    expect(result.errors).toBeUndefined();
    expect(result.data.nodes).toEqual([
      { __typename: 'Memory', id: ann.memoryIds[1], content: 'ramen in tokyo' },
      null,
      { __typename: 'Context', id: ann.contextId, name: 'Test' },
      null,
      { __typename: 'Memory', id: ann.memoryIds[0], content: 'tea in kyoto' },
      null,
    ]);
  });

  it('refuses more ids than MAX_PAGE_SIZE, changing nothing', async () => {
    const ids = Array.from({ length: 101 }, () => ann.memoryIds[0]!);
    const result = await t.gql(NODES, { ids }, { token: ann.user.token });
    expect(result.data).toBeNull();
    expect(result.errors?.[0]).toMatchObject({ message: 'nodes takes at most 100 ids (MAX_PAGE_SIZE).', extensions: { code: 'BAD_USER_INPUT', field: ['ids'] } });
  });

  it('reads 50 memories in one batch, as memory(id) aliased would', async () => {
    const many = await owner('Many', Array.from({ length: 50 }, (_, i) => `note ${i}`));
    await t.cache.clear();
    const statements = await t.countStatements(async () => {
      const result = await t.gql(NODES, { ids: many.memoryIds }, { token: many.user.token });
      expect(result.data.nodes.map((n: { content: string }) => n.content)).toEqual(many.memoryIds.map((_, i) => `note ${i}`));
    });
    expect(statements.filter((sql) => /FROM memories m WHERE m\.id = ANY/.test(sql))).toHaveLength(1);
  });

  it('caches node answers, and a write to the node invalidates them', async () => {
    const { user, contextId, memoryIds, scoreId, eventId } = await owner('Cached', ['cached note about kyoto']);
    const read = (id: string) => t.gql(NODE, { id }, { token: user.token });
    const isCached = async (id: string) => (await t.countStatements(() => read(id))).length === 0;
    for (const id of [memoryIds[0]!, scoreId, eventId]) {
      await read(id);
      expect({ id, cached: await isCached(id) }).toEqual({ id, cached: true });
    }
    await t.gql(UPDATE, { id: memoryIds[0], content: 'changed note about kyoto' }, { token: user.token });
    expect((await read(memoryIds[0]!)).data.node).toMatchObject({ content: 'changed note about kyoto', version: 2 });
    // The score is computed again from the memory's new version.
    expect(await isCached(scoreId)).toBe(false);
    expect(await isCached(eventId)).toBe(true);
    for (const id of [memoryIds[0]!, scoreId]) await read(id);
    const deleted = await t.gql('mutation ($id: ID!) { deleteContext(input: { id: $id }) { deletedContextId } }', { id: contextId }, { token: user.token });
    expect(deleted.data.deleteContext.deletedContextId).toBe(contextId);
    for (const id of [memoryIds[0]!, scoreId, eventId]) expect({ id, node: (await read(id)).data.node }).toEqual({ id, node: null });
  });
});
