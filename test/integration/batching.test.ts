import { ApolloClient, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const BUDGET = 8;
const MAX_BATCH_SIZE = 4;

const VIEWER = { query: '{ viewer { id } }' };
const LIST = (contextId: string) => ({
  query: 'query List($id: ID!) { context(id: $id) { memories(first: 10) { edges { node { content } } } } }',
  variables: { id: contextId },
});
const ADD = (contextId: string, content: string) => ({
  query: 'mutation Add($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }',
  variables: { id: contextId, content },
});

describe.each(deployments())('batching ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(backend, {
      ...(redisUrl ? { redisUrl } : {}),
      env: { RATE_LIMIT_FREE_PER_WINDOW: String(BUDGET), MAX_BATCH_SIZE: String(MAX_BATCH_SIZE) },
    });
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  /** One request holding `operations` as a JSON array. */
  async function batch(token: string, operations: object[]) {
    const response = await t.app.yoga.fetch('http://recall.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${token}` },
      body: JSON.stringify(operations),
    });
    return { response, body: (await response.json()) as any };
  }

  /** A user with a context, made with one addMemories (the context's creation and the write spend 2 of the budget). */
  async function userWithContext(): Promise<{ user: TestUser; contextId: string }> {
    const user = await t.newUser();
    const created = await t.gql('mutation { createContext(input: { name: "Batch" }) { context { id } } }', {}, { token: user.token });
    return { user, contextId: created.data.createContext.context.id };
  }

  it('answers the operations of a batch in order, each as if sent alone, and spends the budget once for each', async () => {
    const { user, contextId } = await userWithContext();
    const { response, body } = await batch(user.token, [VIEWER, LIST(contextId)]);
    expect(response.status).toBe(200);
    expect(body).toHaveLength(2);
    expect(body[0].data).toEqual({ viewer: { id: user.id } });
    expect(body[1].data).toEqual({ context: { memories: { edges: [] } } });
    // The context's creation spent 1, the batch 2: the reply tells the budget the last operation left.
    expect(response.headers.get('ratelimit-remaining')).toBe(String(BUDGET - 3));
    expect(response.headers.get('ratelimit-limit')).toBe(String(BUDGET));
  });

  it('runs a mutation and then a query of the same batch in order: the query reads the write', async () => {
    const { user, contextId } = await userWithContext();
    // The list is cached first, so that a stale answer would be there to be served.
    await batch(user.token, [LIST(contextId)]);
    const { body } = await batch(user.token, [ADD(contextId, 'first'), LIST(contextId), ADD(contextId, 'second'), LIST(contextId)]);
    expect(body[0].data.addMemories.memories).toHaveLength(1);
    expect(body[1].data.context.memories.edges.map((edge: any) => edge.node.content)).toEqual(['first']);
    expect(body[3].data.context.memories.edges.map((edge: any) => edge.node.content).sort()).toEqual(['first', 'second']);
  });

  it(`refuses a batch of more than MAX_BATCH_SIZE (${MAX_BATCH_SIZE}) operations with 413, running and spending nothing`, async () => {
    const { user, contextId } = await userWithContext();
    const { response, body } = await batch(user.token, Array.from({ length: MAX_BATCH_SIZE + 1 }, (_, i) => ADD(contextId, `too many ${i}`)));
    expect(response.status).toBe(413);
    expect(body.errors[0].message).toBe(`Batching is limited to ${MAX_BATCH_SIZE} operations per request.`);
    const after = await t.gql(LIST(contextId).query, LIST(contextId).variables, { token: user.token });
    expect(after.data.context.memories.edges).toEqual([]);
    expect(after.headers.get('ratelimit-remaining')).toBe(String(BUDGET - 2));
  });

  it('runs the operations the budget pays for and refuses the rest (RATE_LIMITED, with retryAfter) in a 200', async () => {
    const { user, contextId } = await userWithContext();
    // 1 spent on the context; 4 more leave 3.
    await batch(user.token, [VIEWER, VIEWER, VIEWER, VIEWER]);
    const { response, body } = await batch(user.token, [VIEWER, ADD(contextId, 'paid for'), ADD(contextId, 'over budget'), VIEWER]);
    expect(response.status).toBe(200);
    expect(body[0].data).toEqual({ viewer: { id: user.id } });
    expect(body[1].data.addMemories.memories).toHaveLength(1);
    for (const refused of [body[2], body[3]]) {
      expect(refused.data).toBeUndefined();
      expect(refused.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
      expect(refused.errors[0].extensions.http).toBeUndefined();
    }
    expect(response.headers.get('ratelimit-remaining')).toBe('0');
    // The refused write did not happen.
    const list = await t.gql('query ($id: ID!) { context(id: $id) { memories { edges { node { content } } } } }', { id: contextId }, { token: user.token });
    expect(list.status).toBe(429);
  });

  it('applies MAX_OPERATION_COST to each operation: a costly one is refused, the others run', async () => {
    const { user } = await userWithContext();
    const costly = { query: '{ contexts(first: 100) { edges { node { memories(first: 100) { edges { node { id content } } } } } } }' };
    const { response, body } = await batch(user.token, [VIEWER, costly]);
    expect(response.status).toBe(200);
    expect(body[0].data).toEqual({ viewer: { id: user.id } });
    expect(body[1].errors[0].extensions.code).toBe('COST_ESTIMATED_TOO_EXPENSIVE');
  });

  it('works with Apollo BatchHttpLink over HTTP: concurrent operations go in one request', async () => {
    const { user, contextId } = await userWithContext();
    const url = await listen(t);
    const requests: string[] = [];
    const link = new BatchHttpLink({
      uri: url,
      headers: { authorization: `Bearer ${user.token}` },
      batchMax: MAX_BATCH_SIZE,
      fetch: async (input, init) => {
        requests.push(String(init?.body));
        return fetch(input, init);
      },
    });
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const [viewer, context] = await Promise.all([
      client.query({ query: gql`query Me { viewer { id } }` }),
      client.query({ query: gql`query Ctx($id: ID!) { context(id: $id) { id name } }`, variables: { id: contextId } }),
    ]);
    expect(viewer.data).toEqual({ viewer: { __typename: 'User', id: user.id } });
    expect(context.data).toEqual({ context: { __typename: 'Context', id: contextId, name: 'Batch' } });
    expect(requests).toHaveLength(1);
    expect(JSON.parse(requests[0]!)).toHaveLength(2);
  });
});
