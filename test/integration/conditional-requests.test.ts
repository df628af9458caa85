import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const LIST = `query List($id: ID!) { context(id: $id) { name memories(first: 20) { edges { node { id content } } } } }`;
const ADD = `mutation ($id: ID!, $content: String!) { addMemories(input: { contextId: $id, items: [{ content: $content }] }) { memories { id } } }`;
const IMPORTANCE = `mutation ($id: ID!) { updateMemory(input: { id: $id, importance: 0.9 }) { memory { version } } }`;

const modes = deployments();

describe.each(modes)('conditional requests ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  let contextId: string;
  let memoryId: string;

  /** The list over HTTP (a hit is answered by the cached-hit front, a miss by yoga) or in process through yoga. */
  const ask = (how: 'http' | 'yoga', token: string, headers: Record<string, string> = {}, id = contextId) => {
    const init = {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ query: LIST, variables: { id }, operationName: 'List' }),
    };
    return how === 'http' ? fetch(url, init) : t.app.yoga.fetch(url, init);
  };

  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl } : {});
    url = await listen(t);
    user = await t.newUser();
    contextId = (await t.gql('mutation { createContext(input: { name: "Conditional" }) { context { id } } }', {}, { token: user.token })).data.createContext
      .context.id;
    memoryId = (await t.gql(ADD, { id: contextId, content: 'first' }, { token: user.token })).data.addMemories.memories[0].id;
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  it('sends a quoted strong ETag, the same on a miss and on every hit, whichever path answers', async () => {
    const miss = await ask('yoga', user.token);
    const etag = miss.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect((await ask('http', user.token)).headers.get('etag')).toBe(etag);
    expect((await ask('yoga', user.token)).headers.get('etag')).toBe(etag);
  });

  it.each(['http', 'yoga'] as const)('answers 304 (%s) to the ETag alone, in a list, weak, and to *', async (how) => {
    const etag = (await ask(how, user.token)).headers.get('etag')!;
    for (const ifNoneMatch of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
      const response = await ask(how, user.token, { 'if-none-match': ifNoneMatch });
      expect(response.status, ifNoneMatch).toBe(304);
      expect(await response.text()).toBe('');
      expect(response.headers.get('etag')).toBe(etag);
    }
    expect((await ask(how, user.token, { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('answers 304 on a miss when the fresh result is what the client holds', async () => {
    const etag = (await ask('http', user.token)).headers.get('etag')!;
    // Invalidates the cached list (its memory changed), but not what the list shows.
    await t.gql(IMPORTANCE, { id: memoryId }, { token: user.token });
    const statements = await t.countStatements(async () => {
      const fresh = await ask('http', user.token, { 'if-none-match': etag });
      expect(fresh.status).toBe(304);
      expect(fresh.headers.get('etag')).toBe(etag);
    });
    expect(statements.length).toBeGreaterThan(0); // recomputed, not served from the cache
    // A change the list does show: the client's ETag no longer matches.
    await t.gql(ADD, { id: contextId, content: 'second' }, { token: user.token });
    const changed = await ask('http', user.token, { 'if-none-match': etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it("never answers another viewer's ETag with a 304, even for the same data", async () => {
    const other = await t.newUser();
    await t.gql('mutation { createContext(input: { name: "Theirs" }) { context { id } } }', {}, { token: other.token });
    // The same answer for both viewers: each has contexts, and none of them is shown.
    const query = JSON.stringify({ query: '{ contexts(first: 0) { pageInfo { hasNextPage } } }' });
    const post = (how: 'http' | 'yoga', token: string, headers: Record<string, string> = {}) => {
      const init = { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers }, body: query };
      return how === 'http' ? fetch(url, init) : t.app.yoga.fetch(url, init);
    };
    const mine = await post('http', user.token);
    const etag = mine.headers.get('etag')!;
    for (const how of ['http', 'yoga'] as const) {
      const theirs = await post(how, other.token, { 'if-none-match': etag });
      expect(theirs.status).toBe(200);
      expect(theirs.headers.get('etag')).not.toBe(etag);
      expect(((await theirs.json()) as { data: unknown }).data).toEqual({ contexts: { pageInfo: { hasNextPage: true } } });
    }
    expect(((await mine.json()) as { data: unknown }).data).toEqual({ contexts: { pageInfo: { hasNextPage: true } } });
  });
});
