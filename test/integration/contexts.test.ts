import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const CREATE = `mutation ($input: CreateContextInput!) {
  createContext(input: $input) { context { id key name description version } errors { code message field } }
}`;
const UPDATE = `mutation ($input: UpdateContextInput!) {
  updateContext(input: $input) { context { id name description version } errors { code message field } }
}`;
const DELETE = `mutation ($id: ID!) { deleteContext(input: { id: $id }) { deletedContextId errors { code field } } }`;
const GET = `query ($id: ID!) { context(id: $id) { id name description version } }`;
const LIST = `query ($first: Int, $after: String) {
  contexts(first: $first, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
}`;

describe.each(backends())('contexts on %s', (backend) => {
  let t: TestApp;
  let ann: TestUser;
  let bob: TestUser;

  const create = async (user: TestUser, input: Record<string, unknown>) => {
    const result = await t.gql(CREATE, { input }, { token: user.token });
    return result.data.createContext;
  };

  beforeAll(async () => {
    t = await createTestApp(backend);
    [ann, bob] = [await t.newUser('Ann'), await t.newUser('Bob')];
  });
  afterAll(() => t.close());

  it('creates a context and reads it back', async () => {
    const created = await create(ann, { name: '  Trip planning ', description: 'Japan in spring', key: 'trip-2027' });
    expect(created.errors).toEqual([]);
    expect(created.context).toMatchObject({ key: 'trip-2027', name: 'Trip planning', description: 'Japan in spring', version: 1 });
    expect(created.context.id).toMatch(/^ctx_[0-9A-Z]{26}$/);
    const read = await t.gql(GET, { id: created.context.id }, { token: ann.token });
    expect(read.data.context).toEqual({ id: created.context.id, name: 'Trip planning', description: 'Japan in spring', version: 1 });
  });

  it('refuses invalid input with field paths and writes nothing', async () => {
    const before = await t.database.db.query('SELECT id FROM contexts');
    const result = await create(ann, { name: '   ', key: 'has spaces', description: 'x'.repeat(2001) });
    expect(result.context).toBeNull();
    expect(result.errors.map((error: { field: string[] }) => error.field)).toEqual(
      expect.arrayContaining([['name'], ['key'], ['description']]),
    );
    expect(await t.database.db.query('SELECT id FROM contexts')).toHaveLength(before.length);
  });

  it('keeps keys unique per owner, not across owners', async () => {
    expect((await create(ann, { name: 'A', key: 'shared-key' })).errors).toEqual([]);
    expect((await create(ann, { name: 'B', key: 'shared-key' })).errors).toEqual([
      expect.objectContaining({ code: 'CONFLICT', field: ['key'] }),
    ]);
    expect((await create(bob, { name: 'C', key: 'shared-key' })).errors).toEqual([]);
  });

  it('updates with optimistic concurrency', async () => {
    const { context } = await create(ann, { name: 'Draft', description: 'first' });
    const first = await t.gql(UPDATE, { input: { id: context.id, name: 'Final', expectedVersion: 1 } }, { token: ann.token });
    expect(first.data.updateContext).toEqual({
      context: { id: context.id, name: 'Final', description: 'first', version: 2 },
      errors: [],
    });
    const stale = await t.gql(UPDATE, { input: { id: context.id, name: 'Lost', expectedVersion: 1 } }, { token: ann.token });
    expect(stale.data.updateContext.errors).toEqual([
      { code: 'CONFLICT', message: expect.stringContaining('version 2'), field: ['expectedVersion'] },
    ]);
    expect(stale.data.updateContext.context).toMatchObject({ name: 'Final', version: 2 });

    const cleared = await t.gql(UPDATE, { input: { id: context.id, description: null } }, { token: ann.token });
    expect(cleared.data.updateContext.context).toMatchObject({ description: null, version: 3 });
    const nothing = await t.gql(UPDATE, { input: { id: context.id } }, { token: ann.token });
    expect(nothing.data.updateContext.errors[0].code).toBe('BAD_USER_INPUT');
    expect((await t.gql(GET, { id: context.id }, { token: ann.token })).data.context.version).toBe(3);
  });

  it('deletes a context with its memories', async () => {
    const { context } = await create(ann, { name: 'Temporary' });
    await t.gql(
      'mutation ($id: ID!) { addMemories(input: { contextId: $id, items: [{ content: "soon gone" }] }) { errors { code } } }',
      { id: context.id },
      { token: ann.token },
    );
    const deleted = await t.gql(DELETE, { id: context.id }, { token: ann.token });
    expect(deleted.data.deleteContext).toEqual({ deletedContextId: context.id, errors: [] });
    expect((await t.gql(GET, { id: context.id }, { token: ann.token })).data.context).toBeNull();
    expect(await t.database.db.query('SELECT id FROM memories WHERE context_id = $1', [context.id])).toEqual([]);
    const again = await t.gql(DELETE, { id: context.id }, { token: ann.token });
    expect(again.data.deleteContext.errors).toEqual([{ code: 'NOT_FOUND', field: ['id'] }]);
  });

  it("treats another user's context exactly like an unknown id", async () => {
    const { context } = await create(ann, { name: 'Private', description: 'secret' });
    const unknownId = context.id.slice(0, -4) + 'ZZZZ';
    for (const id of [context.id, unknownId]) {
      expect(await t.gql(GET, { id }, { token: bob.token })).toMatchObject({ status: 200, data: { context: null } });
      const update = await t.gql(UPDATE, { input: { id, name: 'Taken' } }, { token: bob.token });
      expect(update.data.updateContext).toEqual({
        context: null,
        errors: [{ code: 'NOT_FOUND', message: 'No context with this id.', field: ['id'] }],
      });
      expect((await t.gql(DELETE, { id }, { token: bob.token })).data.deleteContext).toEqual({
        deletedContextId: null,
        errors: [{ code: 'NOT_FOUND', field: ['id'] }],
      });
    }
    const listed = await t.gql(LIST, { first: 100 }, { token: bob.token });
    expect(listed.data.contexts.edges.map((edge: { node: { id: string } }) => edge.node.id)).not.toContain(context.id);
    expect((await t.gql(GET, { id: context.id }, { token: ann.token })).data.context).toMatchObject({ name: 'Private', version: 1 });
  });

  it('lets an admin read any context', async () => {
    const { context } = await create(ann, { name: 'Audited' });
    const admin = await t.newUser('Admin');
    await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
    expect((await t.gql(GET, { id: context.id }, { token: admin.token })).data.context.name).toBe('Audited');
  });

  it('requires authentication', async () => {
    for (const [query, variables] of [
      [GET, { id: 'ctx_x' }],
      [LIST, {}],
      [CREATE, { input: { name: 'x' } }],
    ] as const) {
      const result = await t.gql(query, variables);
      expect(result.status).toBe(401);
      expect(result.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    }
  });

  describe('pagination', () => {
    let carol: TestUser;
    let ids: string[];
    beforeAll(async () => {
      carol = await t.newUser('Carol');
      ids = [];
      for (let i = 0; i < 5; i++) ids.push((await create(carol, { name: `Context ${i}` })).context.id);
      ids.reverse(); // newest first
    });
    const page = async (variables: Record<string, unknown>) => t.gql(LIST, variables, { token: carol.token });

    it('walks newest first with cursors until the last page', async () => {
      const seen: string[] = [];
      let after: string | null = null;
      let pages = 0;
      for (;;) {
        const result = await page({ first: 2, after });
        const connection = result.data.contexts;
        seen.push(...connection.edges.map((edge: { node: { id: string } }) => edge.node.id));
        pages++;
        expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1)?.cursor ?? null);
        if (!connection.pageInfo.hasNextPage) break;
        after = connection.pageInfo.endCursor;
      }
      expect(seen).toEqual(ids);
      expect(pages).toBe(3);
    });

    it('returns an exact last page without a next page', async () => {
      const all = await page({ first: 5 });
      expect(all.data.contexts.edges).toHaveLength(5);
      expect(all.data.contexts.pageInfo.hasNextPage).toBe(false);
      const beyond = await page({ first: 5, after: all.data.contexts.pageInfo.endCursor });
      expect(beyond.data.contexts).toEqual({
        edges: [],
        pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
      });
    });

    it('accepts first: 0 and uses the default page size without first', async () => {
      const empty = await page({ first: 0 });
      expect(empty.data.contexts.edges).toEqual([]);
      expect(empty.data.contexts.pageInfo.hasNextPage).toBe(true);
      expect((await page({})).data.contexts.edges).toHaveLength(5);
    });

    it.each([
      [{ first: -1 }, /first must be between 0 and 100/],
      [{ first: 101 }, /first must be between 0 and 100/],
      [{ first: 2, after: 'garbage!' }, /not a cursor/],
      [{ first: 2, after: Buffer.from('["mem_01ABC"]').toString('base64url') }, /not a cursor/],
    ])('refuses %j with BAD_USER_INPUT', async (variables, message) => {
      const result = await page(variables);
      expect(result.data).toBeNull();
      expect(result.errors?.[0]).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT' } });
    });
  });
});
