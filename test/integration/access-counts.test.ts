import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';
import { deployments } from '../helpers/test-database.js';

const READ = `query ($id: ID!) { memory(id: $id) { id content } }`;
const SEARCH = `query ($id: ID!) { searchMemories(input: { contextId: $id, query: "kyoto" }) { edges { node { id } } } }`;

const modes = deployments();

describe.each(modes)('access frequency counts every retrieval ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  beforeAll(async () => {
    t = await createTestApp(backend, redisUrl ? { redisUrl } : {});
    url = await listen(t);
    user = await t.newUser();
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  const overHttp = (query: string, id: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
      body: JSON.stringify({ query, variables: { id } }),
    }).then((response) => response.json());

  const accessCount = async (memoryId: string) => {
    await t.app.deps.accessRecorder.flush();
    const [row] = await t.database.db.query<{ access_count: number }>('SELECT access_count FROM memory_access WHERE user_id = $1 AND memory_id = $2', [
      user.id,
      memoryId,
    ]);
    return row?.access_count ?? 0;
  };

  it('counts cache hits of memory(id) and of searches, through yoga and the cached-hit front, with no SQL on a hit', async () => {
    const { contextId, memoryIds } = await t.newMemories(user, ['hotel in Kyoto']);
    const memoryId = memoryIds[0]!;

    for (let i = 0; i < 5; i++) await t.gql(READ, { id: memoryId }, { token: user.token });
    for (let i = 0; i < 5; i++) expect((await overHttp(READ, memoryId)).data.memory.id).toBe(memoryId);
    expect(await accessCount(memoryId)).toBe(10);

    for (let i = 0; i < 3; i++) await t.gql(SEARCH, { id: contextId }, { token: user.token });
    for (let i = 0; i < 3; i++) expect((await overHttp(SEARCH, contextId)).data.searchMemories.edges).toEqual([{ node: { id: memoryId } }]);
    expect(await accessCount(memoryId)).toBe(16);

    // Counted in memory and written in batches: a hit sends no SQL.
    expect(await t.countStatements(() => overHttp(READ, memoryId))).toEqual([]);
    expect(await t.countStatements(() => t.gql(SEARCH, { id: contextId }, { token: user.token }))).toEqual([]);
    expect(await accessCount(memoryId)).toBe(18);
  });
});
