import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const DEEP_LIST = `query ($id: ID!, $first: Int!) {
  context(id: $id) {
    name
    memories(first: $first) {
      edges { node { id content context { id name } relevance(contextId: $id) { score memory { id } context { id } } history { type actor { id } } } }
    }
  }
}`;
const CONTEXTS_WITH_MEMORIES = `query ($first: Int!) {
  contexts(first: $first) { edges { node { id memories(first: 5) { edges { node { id context { name } } } } } } }
}`;

describe.each(backends())('DataLoader batching on %s', (backend) => {
  let t: TestApp;
  let user: TestUser;
  let admin: TestUser;
  let contextId: string;

  beforeAll(async () => {
    t = await createTestApp(backend);
    user = await t.newUser();
    for (let c = 0; c < 10; c++) {
      const created = await t.gql(
        'mutation ($name: String!) { createContext(input: { name: $name, description: "memories about cooking" }) { context { id } } }',
        { name: `Context ${c}` },
        { token: user.token },
      );
      contextId = created.data.createContext.context.id;
      const items = Array.from({ length: 50 }, (_, i) => ({ content: `cooking note ${i} about pasta`, importance: (i % 10) / 10 }));
      await t.gql('mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { errors { code } } }', { input: { contextId, items } }, { token: user.token });
    }
    // An admin edits every other memory of the last context, so history actors are two users.
    admin = await t.newUser('Admin');
    await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
    const listed = await t.gql('query ($id: ID!) { context(id: $id) { memories(first: 50) { edges { node { id } } } } }', { id: contextId }, { token: user.token });
    const ids: string[] = listed.data.context.memories.edges.map((edge: { node: { id: string } }) => edge.node.id);
    for (const id of ids.filter((_, i) => i % 2 === 0)) {
      await t.gql('mutation ($id: ID!) { updateMemory(input: { id: $id, importance: 1 }) { errors { code } } }', { id }, { token: admin.token });
    }
  });
  afterAll(() => t.close());

  /** Statements of one request on a cold cache: what batching alone achieves. */
  const statementsFor = async (query: string, variables: Record<string, unknown>, viewer = user) => {
    await t.cache.clear();
    return t.countStatements(async () => {
      const result = await t.gql(query, variables, { token: viewer.token });
      expect(result.errors).toBeUndefined();
    });
  };

  it('reads 50 memories with their context, relevance and history in a constant number of statements', async () => {
    const five = await statementsFor(DEEP_LIST, { id: contextId, first: 5 }, admin);
    const fifty = await statementsFor(DEEP_LIST, { id: contextId, first: 50 }, admin);
    // session, context, memory page, relevance scores, history, history actors (the owner; the
    // admin viewer came with the session)
    expect(fifty).toHaveLength(6);
    expect(fifty.filter((sql) => sql.includes('recall_relevance('))).toHaveLength(1);
    expect(fifty).toHaveLength(five.length);
    expect(fifty.filter((sql) => sql.includes('FROM users WHERE id = ANY'))).toHaveLength(1);
  });

  it('reads the memories of 10 contexts in one statement, not one per context', async () => {
    const two = await statementsFor(CONTEXTS_WITH_MEMORIES, { first: 2 });
    const ten = await statementsFor(CONTEXTS_WITH_MEMORIES, { first: 10 });
    // session, context page, one memory-page statement for all contexts
    expect(ten).toHaveLength(3);
    expect(ten).toHaveLength(two.length);
    expect(ten.filter((sql) => sql.includes('CROSS JOIN LATERAL'))).toHaveLength(1);
  });

  it('splits batches at DATALOADER_MAX_BATCH_SIZE', async () => {
    const small = await createTestApp(backend, { env: { DATALOADER_MAX_BATCH_SIZE: '20' } });
    try {
      const owner = await small.newUser();
      const created = await small.gql('mutation { createContext(input: { name: "c" }) { context { id } } }', {}, { token: owner.token });
      const id = created.data.createContext.context.id;
      const items = Array.from({ length: 50 }, (_, i) => ({ content: `note ${i}` }));
      await small.gql('mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { errors { code } } }', { input: { contextId: id, items } }, { token: owner.token });
      await small.cache.clear();
      const statements = await small.countStatements(() =>
        small.gql('query ($id: ID!) { context(id: $id) { memories(first: 50) { edges { node { relevance(contextId: $id) { score } } } } } }', { id }, { token: owner.token }),
      );
      expect(statements.filter((sql) => sql.includes('unnest($2::text[], $3::text[])'))).toHaveLength(3);
    } finally {
      await small.close();
    }
  });
});
