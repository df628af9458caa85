import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { Client, fetchExchange, gql as urqlGql } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const PAGE = `query Page($id: ID!, $first: Int!, $after: String) {
  context(id: $id) { id name memories(first: $first, after: $after) { edges { cursor node { id content } } pageInfo { hasNextPage endCursor } } }
}`;
const SEARCH = `query Search($id: ID!, $q: String!) {
  searchMemories(input: { contextId: $id, query: $q }) { edges { score node { id content } } pageInfo { hasNextPage } }
}`;
const CONTENTS = ['hotel in Rome', 'hotel in Paris', 'food: pasta', 'food: croissant', 'museum pass'];

const embedded = () => null;

const contentsOf = (connection: { edges: { node: { content: string } }[] }) => connection.edges.map((edge) => edge.node.content);

/** Normalized client caches (Apollo's InMemoryCache, urql's Graphcache) over Recall, in Node: the caches are the same code browsers run. */
describe('normalized client caches', () => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  let contextId: string;

  beforeAll(async () => {
    t = await createTestApp(backends()[0]!, { env: { RATE_LIMIT_FREE_PER_WINDOW: '40' } });
    url = await listen(t);
    user = await t.newUser();
    ({ contextId } = await t.newMemories(user, CONTENTS));
  });
  afterAll(() => t.close());

  const apollo = (typePolicies = {}) =>
    new ApolloClient({ link: new HttpLink({ uri: url, headers: { authorization: `Bearer ${user.token}` } }), cache: new InMemoryCache({ typePolicies }) });

  it('Apollo keeps two pages and two searches apart', async () => {
    const client = apollo();
    const first = await client.query<any>({ query: gql(PAGE), variables: { id: contextId, first: 2 } });
    const page1 = contentsOf(first.data!.context.memories);
    const second = await client.query<any>({ query: gql(PAGE), variables: { id: contextId, first: 2, after: first.data!.context.memories.pageInfo.endCursor } });
    expect(contentsOf(second.data!.context.memories)).not.toEqual(page1);
    const readBack = client.readQuery<any>({ query: gql(PAGE), variables: { id: contextId, first: 2 } });
    expect(contentsOf(readBack.context.memories)).toEqual(page1);

    const hotel = await client.query<any>({ query: gql(SEARCH), variables: { id: contextId, q: 'hotel' } });
    await client.query<any>({ query: gql(SEARCH), variables: { id: contextId, q: 'food' } });
    expect(contentsOf(hotel.data!.searchMemories).sort()).toEqual(['hotel in Paris', 'hotel in Rome']);
    const hotelAgain = client.readQuery<any>({ query: gql(SEARCH), variables: { id: contextId, q: 'hotel' } });
    expect(contentsOf(hotelAgain.searchMemories).sort()).toEqual(['hotel in Paris', 'hotel in Rome']);
  });

  it('Apollo merges pages with relayStylePagination', async () => {
    const client = apollo({ Context: { fields: { memories: relayStylePagination() } } });
    const query = client.watchQuery<any>({ query: gql(PAGE), variables: { id: contextId, first: 2 } });
    const first = await query.fetchMore<any>({ variables: { first: 2 } });
    const cursor = first.data!.context.memories.pageInfo.endCursor;
    await query.fetchMore({ variables: { after: cursor } });
    await query.fetchMore({ variables: { after: client.readQuery<any>({ query: gql(PAGE), variables: { id: contextId, first: 2 } }).context.memories.pageInfo.endCursor } });
    const all = client.readQuery<any>({ query: gql(PAGE), variables: { id: contextId, first: 2 } });
    expect(contentsOf(all.context.memories).sort()).toEqual([...CONTENTS].sort());
    expect(all.context.memories.pageInfo.hasNextPage).toBe(false);
  });

  it('urql Graphcache keeps two pages and two searches apart', async () => {
    const client = new Client({
      url,
      fetchOptions: { headers: { authorization: `Bearer ${user.token}` } },
      // Connections have no id of their own: Graphcache embeds them in their parent (the README's set-up).
      exchanges: [
        cacheExchange({
          keys: {
            ContextConnection: embedded,
            ContextEdge: embedded,
            MemoryConnection: embedded,
            MemoryEdge: embedded,
            MemorySearchConnection: embedded,
            MemorySearchEdge: embedded,
            PageInfo: embedded,
          },
        }),
        fetchExchange,
      ],
    });
    const first = await client.query(urqlGql(PAGE), { id: contextId, first: 2 }).toPromise();
    expect(first.error).toBeUndefined();
    const page1 = contentsOf(first.data.context.memories);
    const second = await client.query(urqlGql(PAGE), { id: contextId, first: 2, after: first.data.context.memories.pageInfo.endCursor }).toPromise();
    expect(contentsOf(second.data.context.memories)).not.toEqual(page1);
    const readBack = await client.query(urqlGql(PAGE), { id: contextId, first: 2 }, { requestPolicy: 'cache-only' }).toPromise();
    expect(contentsOf(readBack.data.context.memories)).toEqual(page1);

    await client.query(urqlGql(SEARCH), { id: contextId, q: 'hotel' }).toPromise();
    await client.query(urqlGql(SEARCH), { id: contextId, q: 'food' }).toPromise();
    const hotelAgain = await client.query(urqlGql(SEARCH), { id: contextId, q: 'hotel' }, { requestPolicy: 'cache-only' }).toPromise();
    expect(contentsOf(hotelAgain.data.searchMemories).sort()).toEqual(['hotel in Paris', 'hotel in Rome']);
  });

  it('gives Apollo a 429 it can read: extensions.code and retryAfter', async () => {
    const spender = await t.newUser('Spender');
    const client = new ApolloClient({ link: new HttpLink({ uri: url, headers: { authorization: `Bearer ${spender.token}` } }), cache: new InMemoryCache() });
    let refused: unknown;
    for (let i = 0; i < 60 && !refused; i++) {
      await client.query({ query: gql('query Me { viewer { id } }'), fetchPolicy: 'network-only' }).catch((error: unknown) => (refused = error));
    }
    expect(CombinedGraphQLErrors.is(refused)).toBe(true);
    const [error] = (refused as CombinedGraphQLErrors).errors;
    expect(error!.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });
  });
});
