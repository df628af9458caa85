import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type GraphQLResponse, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';
import { weightedSum } from '../helpers/weighted-sum.js';

const SEARCH = `query ($input: SearchMemoriesInput!) {
  searchMemories(input: $input) {
    edges { cursor score node { id content } breakdown { textRelevance recency importance accessFrequency weights { textRelevance } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const RELEVANCE = `query ($id: ID!, $contextId: ID!) {
  memory(id: $id) {
    relevance(contextId: $contextId) {
      id score computedAt breakdown { textRelevance recency importance accessFrequency }
      memory { id } context { id }
    }
  }
}`;

describe.each(backends())('relevance on %s', (backend) => {
  let t: TestApp;
  let ann: TestUser;
  let bob: TestUser;
  let contextId: string;
  let ids: Record<string, string>;

  const search = async (input: Record<string, unknown>, user = ann) =>
    t.gql(SEARCH, { input: { contextId, ...input } }, { token: user.token });

  beforeAll(async () => {
    // Scores as computed: cached whole responses would answer repeated searches (the response cache's own tests cover that).
    t = await createTestApp(backend, { env: { RESPONSE_CACHE_ENABLED: 'false' } });
    [ann, bob] = [await t.newUser('Ann'), await t.newUser('Bob')];
    const created = await t.gql(
      'mutation { createContext(input: { name: "Japan trip", description: "Flights, hotels and food in Kyoto" }) { context { id } } }',
      {},
      { token: ann.token },
    );
    contextId = created.data.createContext.context.id;
    const added = await t.gql(
      `mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id content } errors { code } } }`,
      {
        input: {
          contextId,
          items: [
            { content: 'Booked a ryokan in Kyoto near Gion for three nights', tags: ['hotels'], importance: 0.6 },
            { content: 'Kyoto temples open early; Kyoto buses get crowded', importance: 0.3 },
            { content: 'Allergic to shellfish', tags: ['food', 'health'], importance: 1 },
            { content: 'Prefers aisle seats on long flights', importance: 0.5 },
            { content: 'Quarterly tax filing is due in January', importance: 0.5 },
          ],
        },
      },
      { token: ann.token },
    );
    ids = Object.fromEntries(
      added.data.addMemories.memories.map((memory: { id: string; content: string }) => [memory.content.split(' ')[0], memory.id]),
    );
  });
  afterAll(() => t.close());

  it('ranks matching memories best first with scores from 0 to 1', async () => {
    const result = await search({ query: 'kyoto hotel' });
    const edges = result.data.searchMemories.edges;
    expect(edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([ids['Booked'], ids['Kyoto']]);
    for (const edge of edges) {
      expect(edge.score).toBeGreaterThan(0);
      expect(edge.score).toBeLessThanOrEqual(1);
      expect(edge.breakdown).toBeNull();
    }
    expect(edges[0].score).toBeGreaterThan(edges[1].score);
  });

  it('explains a score as the weighted sum of its parts', async () => {
    const [edge] = (await search({ query: 'shellfish allergy', explain: true })).data.searchMemories.edges;
    const { breakdown } = edge;
    expect(breakdown.textRelevance).toBeGreaterThan(0);
    expect(breakdown.importance).toBe(1);
    expect(breakdown.recency).toBeCloseTo(1, 3);
    const weights = { textRelevance: 0.55, recency: 0.2, importance: 0.15, accessFrequency: 0.1 };
    expect(breakdown.weights.textRelevance).toBe(weights.textRelevance);
    expect(edge.score).toBeCloseTo(weightedSum(breakdown, weights), 10);
  });

  it('leaves out results under the threshold', async () => {
    const all = (await search({ query: 'kyoto hotel' })).data.searchMemories.edges;
    const threshold = (all[0].score + all[1].score) / 2;
    const above = (await search({ query: 'kyoto hotel', threshold })).data.searchMemories.edges;
    expect(above.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([ids['Booked']]);
    expect((await search({ query: 'kyoto hotel', threshold: 1 })).data.searchMemories.edges).toEqual([]);
  });

  it('pages through results with cursors, without repeats', async () => {
    const first = (await search({ query: 'kyoto flights shellfish', first: 2 })).data.searchMemories;
    expect(first.edges).toHaveLength(2);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = (await search({ query: 'kyoto flights shellfish', first: 2, after: first.pageInfo.endCursor })).data.searchMemories;
    const all = [...first.edges, ...second.edges].map((edge: { node: { id: string } }) => edge.node.id);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(4);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('counts retrievals and ranks frequently used memories higher', async () => {
    await t.app.deps.accessRecorder.flush();
    const before = (await search({ query: 'tax filing', explain: true })).data.searchMemories.edges[0].breakdown.accessFrequency;
    for (let i = 0; i < 3; i++) await t.gql('query ($id: ID!) { memory(id: $id) { id } }', { id: ids['Quarterly'] }, { token: ann.token });
    await t.app.deps.accessRecorder.flush();
    const after = (await search({ query: 'tax filing', explain: true })).data.searchMemories.edges[0].breakdown.accessFrequency;
    expect(after).toBeGreaterThan(before);
    await t.app.deps.accessRecorder.flush();
    const [row] = await t.database.db.query<{ access_count: number }>(
      'SELECT access_count FROM memory_access WHERE user_id = $1 AND memory_id = $2',
      [ann.id, ids['Quarterly']],
    );
    expect(row!.access_count).toBe(5); // one search hit, three direct reads, one more search hit
  });

  it('decays with age', async () => {
    const now = (await search({ query: 'shellfish', explain: true })).data.searchMemories.edges[0].breakdown.recency;
    t.clock.advance(168 * 3_600_000);
    ann = { ...ann, token: await t.login(ann) }; // the old session expired meanwhile
    const weekLater = (await search({ query: 'shellfish', explain: true })).data.searchMemories.edges[0].breakdown.recency;
    expect(weekLater).toBeCloseTo(now / 2, 3);
  });

  it("scores a memory against a context's name and description", async () => {
    const related = await t.gql(RELEVANCE, { id: ids['Booked'], contextId }, { token: ann.token });
    const unrelated = await t.gql(RELEVANCE, { id: ids['Quarterly'], contextId }, { token: ann.token });
    const score = related.data.memory.relevance;
    expect(score).toMatchObject({ memory: { id: ids['Booked'] }, context: { id: contextId } });
    expect(score.breakdown.textRelevance).toBeGreaterThan(0);
    expect(unrelated.data.memory.relevance.breakdown.textRelevance).toBe(0);
    expect(score.score).toBeGreaterThan(unrelated.data.memory.relevance.score);
    expect(new Date(score.computedAt).getTime()).toBe(t.clock.now().getTime());
  });

  it('refuses bad search input clearly', async () => {
    for (const [input, pattern] of [
      [{ query: '   ' }, /query: must not be empty/],
      [{ query: 'kyoto', threshold: 1.5 }, /threshold: must be from 0 to 1/],
      [{ query: 'kyoto', first: 1000 }, /first must be between/],
      [{ query: 'kyoto', after: 'nope' }, /not a cursor/],
    ] as const) {
      const result = await search(input);
      expect(result.errors?.[0]).toMatchObject({ message: expect.stringMatching(pattern), extensions: { code: 'BAD_USER_INPUT' } });
    }
  });

  it("treats another user's context as unknown, in search and in relevance", async () => {
    [ann, bob] = [{ ...ann, token: await t.login(ann) }, { ...bob, token: await t.login(bob) }];
    const foreign = await search({ query: 'kyoto' }, bob);
    expect(foreign.errors?.[0]).toMatchObject({ message: 'No context with this id.', extensions: { code: 'NOT_FOUND' } });
    const bobContext = await t.gql('mutation { createContext(input: { name: "Bob" }) { context { id } } }', {}, { token: bob.token });
    const crossed = await t.gql(RELEVANCE, { id: ids['Booked'], contextId: bobContext.data.createContext.context.id }, { token: ann.token });
    expect(crossed.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  });

  it('pages through many results in score order, without repeats or gaps', async () => {
    const created = await t.gql('mutation { createContext(input: { name: "Bulk" }) { context { id } } }', {}, { token: ann.token });
    const bulkId = created.data.createContext.context.id;
    const items = Array.from({ length: 25 }, (_, i) => ({ content: `garden note ${i}${i % 3 === 0 ? ' garden garden' : ''}`, importance: (i % 5) / 4 }));
    await t.gql('mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { errors { code } } }', { input: { contextId: bulkId, items } }, { token: ann.token });
    const scores: number[] = [];
    const ids: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const result: GraphQLResponse = await t.gql(SEARCH, { input: { contextId: bulkId, query: "garden", first: 10, after } }, { token: ann.token });
      const connection = result.data.searchMemories;
      for (const edge of connection.edges) {
        scores.push(edge.score);
        ids.push(edge.node.id);
      }
      // Retrievals counted by this page must not reorder the next one: it scores as of page one.
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(ids).toHaveLength(25);
    expect(new Set(ids).size).toBe(25);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });
});


it('adds retrieval counts to PostgreSQL on its own, every ACCESS_FLUSH_INTERVAL_MS', async () => {
  const t = await createTestApp('pglite', { env: { ACCESS_FLUSH_INTERVAL_MS: '50' } });
  try {
    const user = await t.newUser();
    const created = await t.gql('mutation { createContext(input: { name: "c" }) { context { id } } }', {}, { token: user.token });
    const added = await t.gql(
      'mutation ($id: ID!) { addMemories(input: { contextId: $id, items: [{ content: "counted" }] }) { memories { id } } }',
      { id: created.data.createContext.context.id },
      { token: user.token },
    );
    const id = added.data.addMemories.memories[0].id;
    await t.gql('query ($id: ID!) { memory(id: $id) { id } }', { id }, { token: user.token });
    const count = async () =>
      (await t.database.db.query<{ access_count: number }>('SELECT access_count FROM memory_access WHERE memory_id = $1', [id]))[0]
        ?.access_count ?? 0;
    await expect.poll(count, { timeout: 5_000 }).toBe(1);
  } finally {
    await t.close();
  }
});
