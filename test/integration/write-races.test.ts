import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withGate } from '../helpers/gated-database.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const LIST = `query ($id: ID!) { context(id: $id) { memories(first: 50) { edges { node { id content } } } } }`;
const READ = `query ($id: ID!) { memory(id: $id) { id content version } }`;
const ADD = `mutation ($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }`;
const UPDATE = `mutation ($id: ID!, $content: String!) { updateMemory(input: { id: $id, content: $content }) { memory { version } } }`;

const modes = deployments();

const contents = (result: { data: any }) => result.data.context.memories.edges.map((edge: any) => edge.node.content as string);

const refused = (t: TestApp) => t.metric('recall_response_cache_stores_refused_total');

describe.each(modes)('a read held open across a write ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let gate: ReturnType<typeof withGate>;
  let user: TestUser;
  beforeAll(async () => {
    t = await createTestApp(backend, {
      ...(redisUrl ? { redisUrl } : {}),
      wrapDatabase: (db) => {
        gate = withGate(db);
        return gate.database;
      },
    });
    user = await t.newUser();
  });
  afterAll(() => t.close());

  const context = async () =>
    (await t.gql('mutation { createContext(input: { name: "Race" }) { context { id } } }', {}, { token: user.token })).data.createContext.context.id as string;

  it('stores nothing from the list it computed before the write, and caches the next read at once', async () => {
    const id = await context();
    await t.gql(ADD, { id, content: 'one' }, { token: user.token });
    const before = await refused(t);

    // The list's rows are read (without "two"), then held until the write below has been acknowledged.
    const held = gate.hold((sql) => sql.includes('CROSS JOIN LATERAL') && sql.includes('FROM memories m'));
    const racing = t.gql(LIST, { id }, { token: user.token });
    await held.reached;
    const write = await t.gql(ADD, { id, content: 'two' }, { token: user.token });
    expect(write.errors).toBeUndefined();
    held.release();

    const raced = await racing;
    // It began before the write was acknowledged, so the older list is a correct answer…
    expect(contents(raced)).toEqual(['one']);
    // …but one that must not be kept: not by Recall, and not by the client.
    expect(raced.headers.get('cache-control')).toBe('no-store');
    expect(await refused(t)).toBe(before + 1);

    // The next read is a miss that sees the write and is stored; the one after is a hit.
    const next = await t.countStatements(async () => expect(contents(await t.gql(LIST, { id }, { token: user.token }))).toEqual(['two', 'one']));
    expect(next.length).toBeGreaterThan(0);
    const hit = await t.countStatements(async () => expect(contents(await t.gql(LIST, { id }, { token: user.token }))).toEqual(['two', 'one']));
    expect(hit).toEqual([]);
  });

  it('keeps an entity read before an update out of every tier', async () => {
    const id = await context();
    const memoryId = (await t.gql(ADD, { id, content: 'v1' }, { token: user.token })).data.addMemories.memories[0].id as string;
    // A new session, so that the token's own lookup is not what the gate holds.
    const token = await t.login(user);
    await t.gql('{ viewer { id } }', {}, { token });

    const held = gate.hold((sql) => sql.includes('FROM memories m WHERE m.id = ANY'));
    const racing = t.gql(READ, { id: memoryId }, { token });
    await held.reached;
    // Another write first: the update's own read of the memory then begins after the held one,
    // and does not share its load (a load is shared only with reads that began no later).
    await context();
    expect((await t.gql(UPDATE, { id: memoryId, content: 'v2' }, { token })).data.updateMemory.memory.version).toBe(2);
    held.release();
    const raced = await racing;
    expect(raced.data.memory.content).toBe('v1');
    expect(raced.headers.get('cache-control')).toBe('no-store');

    for (let i = 0; i < 3; i++) expect((await t.gql(READ, { id: memoryId }, { token })).data.memory).toMatchObject({ content: 'v2', version: 2 });
  });
});
