import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const ADD = `mutation ($input: AddMemoriesInput!) {
  addMemories(input: $input) {
    memories { id content kind tags metadata importance version expiresAt context { id } }
    context { id name }
    errors { code message field }
  }
}`;
const UPDATE = `mutation ($input: UpdateMemoryInput!) {
  updateMemory(input: $input) {
    memory { id content kind tags metadata importance version expiresAt updatedAt }
    context { id }
    errors { code message field }
  }
}`;
const DELETE = `mutation ($id: ID!) {
  deleteMemory(input: { id: $id }) { deletedMemoryId memory { id content } context { id } errors { code message field } }
}`;
const GET = `query ($id: ID!) {
  memory(id: $id) { id content version history { type version previousContent content actor { id } occurredAt } }
}`;
const LIST = `query ($id: ID!, $first: Int, $after: String, $filter: MemoryFilter) {
  context(id: $id) {
    memories(first: $first, after: $after, filter: $filter) {
      edges { cursor node { id content kind tags importance } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

describe.each(backends())('memories on %s', (backend) => {
  let t: TestApp;
  let ann: TestUser;
  let bob: TestUser;
  let contextId: string;

  const add = async (items: unknown[], user = ann, id = contextId) =>
    (await t.gql(ADD, { input: { contextId: id, items } }, { token: user.token })).data.addMemories;
  const list = async (variables: Record<string, unknown> = {}, user = ann) =>
    (await t.gql(LIST, { id: contextId, ...variables }, { token: user.token })).data.context.memories;

  beforeAll(async () => {
    t = await createTestApp(backend);
    [ann, bob] = [await t.newUser('Ann'), await t.newUser('Bob')];
  });
  afterAll(() => t.close());
  beforeEach(async () => {
    const result = await t.gql(
      'mutation { createContext(input: { name: "Assistant", description: "Personal assistant notes" }) { context { id } } }',
      {},
      { token: ann.token },
    );
    contextId = result.data.createContext.context.id;
  });

  it('adds a batch with defaults and returns the memories and their context', async () => {
    const expiresAt = new Date(t.clock.now().getTime() + 3_600_000).toISOString();
    const result = await add([
      { content: 'Prefers tea over coffee', kind: 'PREFERENCE', tags: ['drinks', 'drinks', 'morning'], importance: 0.9 },
      { content: 'Meeting with Dana on Friday', kind: 'EVENT', metadata: { source: 'calendar', ids: [1, 2] }, expiresAt },
      { content: 'Plain note' },
    ]);
    expect(result.errors).toEqual([]);
    expect(result.context).toEqual({ id: contextId, name: 'Assistant' });
    expect(result.memories).toEqual([
      expect.objectContaining({ content: 'Prefers tea over coffee', kind: 'PREFERENCE', tags: ['drinks', 'morning'], importance: 0.9, version: 1 }),
      expect.objectContaining({ kind: 'EVENT', metadata: { source: 'calendar', ids: [1, 2] }, expiresAt, importance: 0.5 }),
      expect.objectContaining({ content: 'Plain note', kind: 'NOTE', tags: [], metadata: null, expiresAt: null }),
    ]);
    expect(result.memories[0].context.id).toBe(contextId);
    // Newest first: the batch's last item leads the list.
    expect((await list()).edges.map((edge: { node: { content: string } }) => edge.node.content)).toEqual([
      'Plain note',
      'Meeting with Dana on Friday',
      'Prefers tea over coffee',
    ]);
  });

  it('reads as many events of a history as asked, several page sizes in one request', async () => {
    const [memory] = (await add([{ content: 'v1' }])).memories;
    for (const content of ['v2', 'v3']) {
      await t.gql('mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { errors { code } } }', { id: memory.id, content }, { token: ann.token });
    }
    const result = await t.gql(
      'query ($id: ID!) { memory(id: $id) { one: history(first: 1) { content } two: history(first: 2) { content } all: history { content } } }',
      { id: memory.id },
      { token: ann.token },
    );
    expect(result.data.memory).toEqual({
      one: [{ content: 'v3' }],
      two: [{ content: 'v3' }, { content: 'v2' }],
      all: [{ content: 'v3' }, { content: 'v2' }, { content: 'v1' }],
    });
  });

  it('adds nothing when any item is invalid, and names every bad field', async () => {
    const past = new Date(t.clock.now().getTime() - 1000).toISOString();
    const result = await add([
      { content: 'fine' },
      { content: '   ' },
      { content: 'x', importance: 1.5, tags: [''], expiresAt: past },
      { content: 'y'.repeat(8001) },
      { content: 'z', metadata: { blob: 'b'.repeat(17_000) } },
    ]);
    expect(result.memories).toEqual([]);
    expect(result.errors.map((error: { field: string[] }) => error.field.join('.'))).toEqual(
      expect.arrayContaining(['items.1.content', 'items.2.importance', 'items.2.tags.0', 'items.2.expiresAt', 'items.3.content', 'items.4.metadata']),
    );
    expect(result.errors.every((error: { code: string }) => error.code === 'BAD_USER_INPUT')).toBe(true);
    expect((await list()).edges).toEqual([]);
  });

  it('refuses an empty batch and one over the batch limit', async () => {
    expect((await add([])).errors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: ['items'] });
    const tooMany = Array.from({ length: 101 }, (_, i) => ({ content: `m${i}` }));
    expect((await add(tooMany)).errors[0]).toMatchObject({ code: 'BAD_USER_INPUT', field: ['items'] });
    expect((await list()).edges).toEqual([]);
  });

  it('rejects wrong types at validation, before any resolver', async () => {
    const result = await t.gql(ADD, { input: { contextId, items: [{ content: 'x', importance: 'high' }] } }, { token: ann.token });
    expect(result.status).toBe(400);
    expect(result.errors?.[0]?.message).toMatch(/importance.*Float/);
    const badKind = await t.gql(ADD, { input: { contextId, items: [{ content: 'x', kind: 'GOSSIP' }] } }, { token: ann.token });
    expect(badKind.errors?.[0]?.message).toMatch(/GOSSIP/);
    expect((await list()).edges).toEqual([]);
  });

  it('updates a memory, bumps its version and records history', async () => {
    const [memory] = (await add([{ content: 'Lives in Lyon', tags: ['home'], metadata: { a: 1 } }])).memories;
    t.clock.advance(1000);
    const updated = await t.gql(
      UPDATE,
      { input: { id: memory.id, content: 'Lives in Paris', importance: 0.7, metadata: null, expectedVersion: 1 } },
      { token: ann.token },
    );
    expect(updated.data.updateMemory).toMatchObject({
      memory: { id: memory.id, content: 'Lives in Paris', importance: 0.7, tags: ['home'], metadata: null, version: 2 },
      context: { id: contextId },
      errors: [],
    });
    expect(new Date(updated.data.updateMemory.memory.updatedAt).getTime()).toBe(t.clock.now().getTime());

    const read = await t.gql(GET, { id: memory.id }, { token: ann.token });
    expect(read.data.memory.history).toEqual([
      expect.objectContaining({ type: 'UPDATED', version: 2, previousContent: 'Lives in Lyon', content: 'Lives in Paris', actor: { id: ann.id } }),
      expect.objectContaining({ type: 'ADDED', version: 1, previousContent: null, content: 'Lives in Lyon' }),
    ]);
  });

  it('refuses a stale expectedVersion, returns the current memory and changes nothing', async () => {
    const [memory] = (await add([{ content: 'v1' }])).memories;
    await t.gql(UPDATE, { input: { id: memory.id, content: 'v2' } }, { token: ann.token });
    const stale = await t.gql(UPDATE, { input: { id: memory.id, content: 'lost write', expectedVersion: 1 } }, { token: ann.token });
    expect(stale.data.updateMemory.errors).toEqual([
      { code: 'CONFLICT', message: expect.stringContaining('version 2, not 1'), field: ['expectedVersion'] },
    ]);
    expect(stale.data.updateMemory.memory).toMatchObject({ content: 'v2', version: 2 });
    expect((await t.gql(GET, { id: memory.id }, { token: ann.token })).data.memory.history).toHaveLength(2);
  });

  it('lets exactly one of several concurrent writers at the same version win', async () => {
    const [memory] = (await add([{ content: 'contended' }])).memories;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        t.gql(UPDATE, { input: { id: memory.id, content: `writer ${i}`, expectedVersion: 1 } }, { token: ann.token }),
      ),
    );
    const outcomes = results.map((result) => result.data.updateMemory.errors[0]?.code ?? 'OK');
    expect(outcomes.filter((code) => code === 'OK')).toHaveLength(1);
    expect(outcomes.filter((code) => code === 'CONFLICT')).toHaveLength(5);
    expect((await t.gql(GET, { id: memory.id }, { token: ann.token })).data.memory.version).toBe(2);
  });

  it('validates updates', async () => {
    const [memory] = (await add([{ content: 'keep me' }])).memories;
    const result = await t.gql(UPDATE, { input: { id: memory.id, content: '', importance: -1 } }, { token: ann.token });
    expect(result.data.updateMemory.errors.map((error: { field: string[] }) => error.field)).toEqual([['content'], ['importance']]);
    const empty = await t.gql(UPDATE, { input: { id: memory.id } }, { token: ann.token });
    expect(empty.data.updateMemory.errors[0]).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((await t.gql(GET, { id: memory.id }, { token: ann.token })).data.memory).toMatchObject({ content: 'keep me', version: 1 });
  });

  it('deletes a memory, keeps its history, and then treats it as unknown', async () => {
    const [memory] = (await add([{ content: 'to forget' }])).memories;
    const deleted = await t.gql(DELETE, { id: memory.id }, { token: ann.token });
    expect(deleted.data.deleteMemory).toEqual({
      deletedMemoryId: memory.id,
      memory: { id: memory.id, content: 'to forget' },
      context: { id: contextId },
      errors: [],
    });
    expect((await t.gql(GET, { id: memory.id }, { token: ann.token })).data.memory).toBeNull();
    const events = await t.database.db.query<{ type: string }>('SELECT type FROM memory_events WHERE memory_id = $1 ORDER BY version, type', [memory.id]);
    expect(events.map((event) => event.type)).toEqual(['ADDED', 'DELETED']);
    expect((await t.gql(DELETE, { id: memory.id }, { token: ann.token })).data.deleteMemory.errors[0].code).toBe('NOT_FOUND');
  });

  it('hides memories once they expire', async () => {
    const expiresAt = new Date(t.clock.now().getTime() + 60_000).toISOString();
    const [memory] = (await add([{ content: 'ephemeral', expiresAt }])).memories;
    expect((await t.gql(GET, { id: memory.id }, { token: ann.token })).data.memory).not.toBeNull();
    t.clock.advance(60_001);
    expect((await t.gql(GET, { id: memory.id }, { token: ann.token })).data.memory).toBeNull();
    expect((await list()).edges).toEqual([]);
    const update = await t.gql(UPDATE, { input: { id: memory.id, content: 'revive' } }, { token: ann.token });
    expect(update.data.updateMemory.errors[0].code).toBe('NOT_FOUND');
  });

  it("treats another user's memory and context exactly like unknown ones", async () => {
    const [memory] = (await add([{ content: "Ann's secret" }])).memories;
    const unknown = memory.id.slice(0, -4) + 'ZZZZ';
    const seen = [];
    for (const id of [memory.id, unknown]) {
      const read = await t.gql(GET, { id }, { token: bob.token });
      const update = await t.gql(UPDATE, { input: { id, content: 'hijack' } }, { token: bob.token });
      const remove = await t.gql(DELETE, { id }, { token: bob.token });
      seen.push([read.data, update.data, remove.data]);
    }
    expect(seen[0]).toEqual(seen[1]);
    expect(seen[0]![1].updateMemory.errors).toEqual([{ code: 'NOT_FOUND', message: 'No memory with this id.', field: ['id'] }]);

    const foreignAdd = await add([{ content: 'intrusion' }], bob);
    expect(foreignAdd).toEqual({ memories: [], context: null, errors: [{ code: 'NOT_FOUND', message: 'No context with this id.', field: ['contextId'] }] });
    const foreignList = await t.gql(LIST, { id: contextId }, { token: bob.token });
    expect(foreignList.data.context).toBeNull();
    expect((await t.gql(GET, { id: memory.id }, { token: ann.token })).data.memory).toMatchObject({ content: "Ann's secret", version: 1 });
  });

  it('filters by kind, tags and importance, and pages with cursors', async () => {
    await add([
      { content: 'a', kind: 'FACT', tags: ['x', 'y'], importance: 0.2 },
      { content: 'b', kind: 'FACT', tags: ['x'], importance: 0.9 },
      { content: 'c', kind: 'PREFERENCE', tags: ['x', 'y'], importance: 0.95 },
      { content: 'd', kind: 'NOTE' },
    ]);
    const contents = (connection: { edges: Array<{ node: { content: string } }> }) => connection.edges.map((edge) => edge.node.content);
    expect(contents(await list({ filter: { kinds: ['FACT'] } }))).toEqual(['b', 'a']);
    expect(contents(await list({ filter: { tags: ['x', 'y'] } }))).toEqual(['c', 'a']);
    expect(contents(await list({ filter: { minImportance: 0.9 } }))).toEqual(['c', 'b']);
    expect(contents(await list({ filter: { kinds: ['FACT', 'PREFERENCE'], tags: ['x'], minImportance: 0.5 } }))).toEqual(['c', 'b']);

    const first = await list({ first: 3 });
    expect(contents(first)).toEqual(['d', 'c', 'b']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await list({ first: 3, after: first.pageInfo.endCursor });
    expect(contents(second)).toEqual(['a']);
    expect(second.pageInfo.hasNextPage).toBe(false);

    const bad = await t.gql(LIST, { id: contextId, filter: { minImportance: 2 } }, { token: ann.token });
    expect(bad.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
  });

  it('shows every write of a request to the rest of it, including lists, history and scores', async () => {
    const result = await t.gql(
      `mutation ($id: ID!) {
        a: addMemories(input: { contextId: $id, items: [{ content: "one" }] }) {
          memories { id }
          context { memories { edges { node { content } } } }
        }
        b: addMemories(input: { contextId: $id, items: [{ content: "two" }] }) {
          context { memories { edges { node { content } } } }
        }
      }`,
      { id: contextId },
      { token: ann.token },
    );
    expect(result.data.a.context.memories.edges.map((edge: { node: { content: string } }) => edge.node.content)).toEqual(['one']);
    expect(result.data.b.context.memories.edges.map((edge: { node: { content: string } }) => edge.node.content)).toEqual(['two', 'one']);

    const id = result.data.a.memories[0].id;
    const twice = await t.gql(
      `mutation ($id: ID!, $contextId: ID!) {
        first: updateMemory(input: { id: $id, importance: 0.2 }) {
          memory { version history { version } relevance(contextId: $contextId) { breakdown { importance } } }
        }
        second: updateMemory(input: { id: $id, importance: 0.9 }) {
          memory { version history { version } relevance(contextId: $contextId) { breakdown { importance } } }
        }
      }`,
      { id, contextId },
      { token: ann.token },
    );
    expect(twice.data.first.memory).toEqual({ version: 2, history: [{ version: 2 }, { version: 1 }], relevance: { breakdown: { importance: 0.2 } } });
    expect(twice.data.second.memory).toEqual({
      version: 3,
      history: [{ version: 3 }, { version: 2 }, { version: 1 }],
      relevance: { breakdown: { importance: 0.9 } },
    });
  });

  it('does the same work for a foreign id as for an unknown one', async () => {
    const [memory] = (await add([{ content: 'timing' }])).memories;
    const unknown = memory.id.slice(0, -4) + 'ZZZZ';
    const statementsFor = async (id: string) => {
      await t.cache.clear();
      return t.countStatements(async () => {
        await t.gql(GET, { id }, { token: bob.token });
        await t.gql(UPDATE, { input: { id, content: 'x' } }, { token: bob.token });
        await t.gql(DELETE, { id }, { token: bob.token });
        await t.gql(LIST, { id: contextId }, { token: bob.token });
      });
    };
    expect(await statementsFor(memory.id)).toEqual(await statementsFor(unknown));
  });

  it('hides who else wrote a memory from its owner, but not from an admin', async () => {
    const [memory] = (await add([{ content: 'audited' }])).memories;
    const admin = await t.newUser('Admin');
    await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
    await t.gql(UPDATE, { input: { id: memory.id, content: 'audited and fixed' } }, { token: admin.token });
    const actors = async (user: TestUser) =>
      (await t.gql(GET, { id: memory.id }, { token: user.token })).data.memory.history.map(
        (event: { actor: { id: string } | null }) => event.actor?.id ?? null,
      );
    expect(await actors(ann)).toEqual([null, ann.id]);
    expect(await actors(admin)).toEqual([admin.id, ann.id]);
  });
});

