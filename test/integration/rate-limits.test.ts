import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort, startRedisServer } from '../helpers/redis-server.js';
import { listen, overWebSocket, webSocketClient } from '../helpers/subscriptions.js';
import { createTestApp, TEST_PASSWORD, type TestApp, type TestUser } from '../helpers/test-app.js';
import { backends, deployments } from '../helpers/test-database.js';

const modes = deployments();

const LIMITS = {
  RATE_LIMIT_FREE_PER_WINDOW: '100',
  RATE_LIMIT_LOGIN_PER_EMAIL: '5/15m',
  RATE_LIMIT_LOGIN_PER_ADDRESS: '20/15m',
  RATE_LIMIT_SIGNUP: '5/1h',
  RATE_LIMIT_SEARCH_MEMORIES: '3/1m',
  TRUST_PROXY: 'true',
};

const STALL_ONE = 'contexts(first: 100) { edges { node { memories(first: 100) { edges { node { content history(first: 100) { content previousContent } } } } } } }';
const STALL = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: ${STALL_ONE}`).join(' ')} }`;
const LOGIN = (alias: string) => `${alias}: login(input: { email: $email, password: $password }) { token errors { code } }`;
const USER_BY_EMAIL = /FROM users WHERE lower\(email\)/;

/** A fresh client address for each test, so that address-based limits start empty. */
let addresses = 0;
/** A client address no other test of this file uses (random ones from a few hundred collided). */
const address = () => {
  addresses += 1;
  return `198.18.${Math.floor(addresses / 250)}.${(addresses % 250) + 1}`;
};

describe.each(modes)('costs and limits ($name)', ({ backend, redisUrl }) => {
  let t: TestApp;
  let url: string;
  let user: TestUser;
  beforeAll(async () => {
    t = await createTestApp(backend, { ...(redisUrl ? { redisUrl } : {}), env: { ...LIMITS, RATE_LIMIT_SIGNUP: '1000/1h' } });
    url = await listen(t);
    user = await t.newUser();
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await t.close();
  });

  const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('spends what an operation costs, on a miss and on a cached hit, and tells the client', async () => {
    const fresh = await t.newUser();
    const headers = { authorization: `Bearer ${fresh.token}` };
    const query = '{ contexts(first: 100) { edges { node { id } } } }';
    const miss = await post({ query }, headers);
    const hit = await post({ query }, headers);
    for (const response of [miss, hit]) expect(response.status).toBe(200);
    const [missBody, hitBody] = [await miss.json(), await hit.json()];
    // 101 nodes: 2 points.
    expect(missBody.extensions.cost).toMatchObject({ requested: 2, limit: 100 });
    expect(hitBody.extensions.cost).toMatchObject({ requested: 2, remaining: missBody.extensions.cost.remaining - 2 });
    expect(Number(hit.headers.get('ratelimit-remaining'))).toBe(hitBody.extensions.cost.remaining);
    expect(hitBody.data).toEqual(missBody.data);
  });

  it('refuses the aliased stall query before it runs, with its cost and the limit, while /livez answers', async () => {
    const headers = { authorization: `Bearer ${user.token}` };
    let statements: string[] = [];
    let livez: number[] = [];
    statements = await t.countStatements(async () => {
      const storm = Array.from({ length: 20 }, () => post({ query: STALL }, headers));
      livez = await Promise.all(
        [0, 1, 2].map(async () => {
          const started = performance.now();
          expect((await fetch(url.replace('/graphql', '/livez'))).status).toBe(200);
          return performance.now() - started;
        }),
      );
      for (const response of await Promise.all(storm)) {
        expect(response.status).toBe(400);
        const body = await response.json();
        expect(body.errors[0].extensions).toMatchObject({ code: 'COST_ESTIMATED_TOO_EXPENSIVE', cost: { requested: expect.any(Number), limit: 50 } });
        expect(body.errors[0].message).toMatch(/costs? \d+ points; the limit is 50 \(MAX_OPERATION_COST\)/);
        expect(body.data).toBeUndefined();
      }
    });
    // Nothing ran: not a statement, not even the session lookup a second time.
    expect(statements.filter((sql) => !/sessions|cache_outbox/.test(sql))).toEqual([]); // the outbox poll runs on its own timer
    // Run, the storm would hold the event loop for seconds; refused, /livez waits on nothing but
    // the machine (generous: shared CI machines stall for hundreds of ms under load).
    expect(Math.min(...livez)).toBeLessThan(1_000);
  });

  it('counts each aliased login: of 30 in one request, exactly 5 check a password', async () => {
    const victim = await t.newUser();
    const from = { 'x-forwarded-for': address() };
    let response: Response | undefined;
    const decided = async (result: string) => t.metric('recall_rate_limit_decisions_total', { limit: 'Mutation.login', result });
    const [allowedBefore, refusedBefore] = [await decided('allowed'), await decided('refused')];
    const statements = await t.countStatements(async () => {
      response = await post(
        { query: `mutation ($email: String!, $password: String!) { ${Array.from({ length: 30 }, (_, i) => LOGIN(`a${i}`)).join(' ')} }`, variables: { email: victim.email, password: 'wrong guess' } },
        from,
      );
    });
    expect(statements.filter((sql) => USER_BY_EMAIL.test(sql))).toHaveLength(5);
    expect(response!.status).toBe(200);
    const body = await response!.json();
    const answered = Object.entries(body.data).filter(([, value]) => value !== null);
    expect(answered.map(([alias]) => alias)).toEqual(['a0', 'a1', 'a2', 'a3', 'a4']);
    for (const [, payload] of answered) expect(payload).toEqual({ token: null, errors: [{ code: 'INVALID_CREDENTIALS' }] });
    expect(body.errors).toHaveLength(25);
    for (const error of body.errors) expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number), field: 'Mutation.login' });
    // One decision per call of the limited field: 5 allowed, 25 refused (each a rejection too).
    expect([(await decided('allowed')) - allowedBefore, (await decided('refused')) - refusedBefore]).toEqual([5, 25]);

    // The next login for that email is refused whole: 429, with a number of seconds to wait.
    const again = await post({ query: `mutation ($email: String!, $password: String!) { ${LOGIN('only')} }`, variables: { email: victim.email, password: TEST_PASSWORD } }, from);
    expect(again.status).toBe(429);
    expect(again.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(800);
    expect((await again.json()).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: Number(again.headers.get('retry-after')) });
    // Another email from the same address still has room (the per-address limit is 20).
    const other = await post({ query: `mutation ($email: String!, $password: String!) { ${LOGIN('only')} }`, variables: { email: user.email, password: TEST_PASSWORD } }, from);
    expect((await other.json()).data.only.token).toEqual(expect.any(String));
  });

  it('counts failed logins for any email against the address: 20 per 15 min', async () => {
    const from = { 'x-forwarded-for': address() };
    const logins = Array.from({ length: 25 }, (_, i) => `a${i}: login(input: { email: "nobody-${i}@example.com", password: "guess" }) { errors { code } }`);
    const body = await (await post({ query: `mutation { ${logins.join(' ')} }` }, from)).json();
    const answered = Object.values(body.data).filter((value) => value !== null);
    expect(answered).toEqual(Array(20).fill({ errors: [{ code: 'INVALID_CREDENTIALS' }] }));
    expect(body.errors).toHaveLength(5);
  });

  it('answers a limited field inside a larger query: N results, then null with RATE_LIMITED, the rest present', async () => {
    const fresh = await t.newUser();
    const { contextId } = await t.newMemories(fresh, ['pasta with tomato', 'tomato soup']);
    const searches = Array.from({ length: 5 }, (_, i) => `s${i}: searchMemories(input: { contextId: $id, query: "tomato" }) { edges { node { id } } }`).join(' ');
    const result = await t.gql(`query ($id: ID!) { viewer { id } ${searches} }`, { id: contextId }, { token: fresh.token });
    expect(result.status).toBe(200);
    expect(result.data.viewer).toEqual({ id: fresh.id });
    expect([0, 1, 2].map((i) => result.data[`s${i}`].edges)).toEqual([0, 1, 2].map(() => expect.arrayContaining([expect.anything()])));
    expect(result.data.s3).toBeNull();
    expect(result.data.s4).toBeNull();
    expect(result.errors!.map((error) => error.path)).toEqual([['s3'], ['s4']]);
    for (const error of result.errors!) expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: expect.any(Number) });

    const status = await t.gql('{ viewer { rateLimits { budget { limit remaining } fields { field max remaining } } } }', {}, { token: fresh.token });
    expect(status.data.viewer.rateLimits.fields).toContainEqual({ field: 'Query.searchMemories', max: 3, remaining: 0 });
  });

  it('never answers a refused call from the response cache', async () => {
    const fresh = await t.newUser();
    const { contextId } = await t.newMemories(fresh, ['tomato soup']);
    const query = { query: 'query ($id: ID!) { viewer { id } s: searchMemories(input: { contextId: $id, query: "tomato" }) { edges { node { id } } } }', variables: { id: contextId } };
    const bodies = [];
    for (let i = 0; i < 4; i++) bodies.push(await (await post(query, { authorization: `Bearer ${fresh.token}` })).json());
    // The second and third are cache hits; the fourth is over the limit of 3.
    expect(bodies.slice(0, 3).map((body) => body.data.s.edges.length)).toEqual([1, 1, 1]);
    expect(bodies[3].data).toEqual({ viewer: { id: fresh.id }, s: null });
    expect(bodies[3].errors[0].extensions.code).toBe('RATE_LIMITED');
  });

  it('charges a refused token to its address: of 150 from one address, the 101st gets 429', async () => {
    const from = { 'x-forwarded-for': address() };
    const statuses: number[] = [];
    for (let i = 0; i < 150; i++) {
      const response = await post({ query: '{ viewer { id } }' }, { ...from, authorization: `Bearer rcs_${randomBytes(32).toString('base64url')}` });
      statuses.push(response.status);
      await response.arrayBuffer();
    }
    expect(statuses.slice(0, 100)).toEqual(Array(100).fill(401));
    expect(statuses.slice(100)).toEqual(Array(50).fill(429));
  });

  it('refuses the sixth sign-up from an address whole, creating nothing', async () => {
    const limited = await createTestApp(backend, { ...(redisUrl ? { redisUrl } : {}), env: LIMITS, database: t.database });
    try {
      const from = { 'x-forwarded-for': address() };
      const signUp = (n: number) =>
        limited.gql(`mutation { signUp(input: { email: "limited-${n}-${randomBytes(4).toString('hex')}@example.com", password: "${TEST_PASSWORD}" }) { token } }`, {}, { headers: from });
      for (let n = 0; n < 5; n++) expect((await signUp(n)).data.signUp.token).toEqual(expect.any(String));
      const statements = await limited.countStatements(async () => {
        const sixth = await signUp(5);
        expect(sixth.status).toBe(429);
        expect(sixth.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', field: 'Mutation.signUp' });
      });
      expect(statements.filter((sql) => /INSERT INTO users/i.test(sql))).toEqual([]);
    } finally {
      await limited.close();
    }
  });

  it('lets admins through every limit, and lets them reset one; others may not', async () => {
    const admin = await t.newUser('Admin');
    await t.database.db.query(`UPDATE users SET role = 'ADMIN' WHERE id = $1`, [admin.id]);
    const adminToken = await t.login(admin);
    const { contextId } = await t.newMemories(admin, ['tomato']);
    const search = `query ($id: ID!) { ${Array.from({ length: 6 }, (_, i) => `s${i}: searchMemories(input: { contextId: $id, query: "tomato" }) { edges { node { id } } }`).join(' ')} }`;
    const result = await t.gql(search, { id: contextId }, { token: adminToken });
    expect(result.errors).toBeUndefined();
    expect(result.headers.get('ratelimit-limit')).toBeNull();

    const fresh = await t.newUser();
    const own = await t.newMemories(fresh, ['tomato']);
    const once = `query ($id: ID!) { searchMemories(input: { contextId: $id, query: "tomato" }) { edges { node { id } } } }`;
    for (let i = 0; i < 3; i++) expect((await t.gql(once, { id: own.contextId }, { token: fresh.token })).status).toBe(200);
    expect((await t.gql(once, { id: own.contextId }, { token: fresh.token })).status).toBe(429);

    const reset = 'mutation ($identity: String!, $field: String) { resetRateLimit(input: { identity: $identity, field: $field }) { errors { code message } } }';
    const forbidden = await t.gql(reset, { identity: `user:${fresh.id}`, field: 'Query.searchMemories' }, { token: fresh.token });
    expect(forbidden.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });
    const unknown = await t.gql(reset, { identity: `user:${fresh.id}`, field: 'Query.viewer' }, { token: adminToken });
    expect(unknown.data.resetRateLimit.errors[0]).toMatchObject({ code: 'BAD_USER_INPUT' });
    const done = await t.gql(reset, { identity: `user:${fresh.id}`, field: 'Query.searchMemories' }, { token: adminToken });
    expect(done.data.resetRateLimit.errors).toEqual([]);
    expect((await t.gql(once, { id: own.contextId }, { token: fresh.token })).status).toBe(200);
  });

  it('cuts off a response over MAX_RESPONSE_BYTES with a clear error, over JSON (never stored), SSE and WebSocket', async () => {
    const small = await createTestApp(backend, { ...(redisUrl ? { redisUrl } : {}), env: { MAX_RESPONSE_BYTES: '400' }, database: t.database });
    try {
      const smallUrl = await listen(small);
      const { contextId } = await small.newMemories(user, ['x'.repeat(300), 'y'.repeat(300)]);
      const operation = { query: 'query ($id: ID!) { context(id: $id) { memories { edges { node { content } } } } }', variables: { id: contextId } };
      const send = (accept: string) =>
        fetch(smallUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${user.token}` }, body: JSON.stringify(operation) });
      for (let i = 0; i < 2; i++) {
        const response = await send('application/graphql-response+json');
        expect(response.status).toBe(400);
        const body = await response.json();
        expect(body.errors[0].extensions.code).toBe('RESPONSE_TOO_LARGE');
        expect(body.errors[0].message).toMatch(/the limit is 400 \(MAX_RESPONSE_BYTES\)/);
        expect(body.data).toBeUndefined();
      }
      const events = await (await send('text/event-stream')).text();
      expect(events).toContain('RESPONSE_TOO_LARGE');
      expect(events).not.toContain('x'.repeat(300));
      const socket = webSocketClient(smallUrl, user.token);
      try {
        const overSocket = await overWebSocket(socket, operation.query, operation.variables).catch((errors: unknown) => errors);
        expect(JSON.stringify(overSocket)).toContain('RESPONSE_TOO_LARGE');
        expect(JSON.stringify(overSocket)).not.toContain('"http"');
      } finally {
        await socket.dispose();
      }
    } finally {
      small.app.server.closeAllConnections();
      await small.close();
    }
  });

  it('refuses over WebSocket what it refuses over HTTP, and the socket stays open', async () => {
    const socket = webSocketClient(url, user.token);
    try {
      const refused = await overWebSocket(socket, STALL).catch((errors: unknown) => errors);
      expect(refused).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'COST_ESTIMATED_TOO_EXPENSIVE' }) })]);
      expect(await overWebSocket(socket, '{ viewer { id } }')).toMatchObject({ data: { viewer: { id: user.id } } });
    } finally {
      await socket.dispose();
    }
  });
});

describe.runIf(inject('redisUrl'))('field limits across instances', () => {
  it('lets exactly 5 of 50 concurrent logins for one email check a password, split across two instances', async () => {
    const env = { ...LIMITS, REDIS_KEY_PREFIX: `recall-test:${randomBytes(6).toString('hex')}:`, RATE_LIMIT_LOGIN_PER_ADDRESS: '1000/15m' };
    const a = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env });
    const b = await createTestApp(backends().at(-1)!, { redisUrl: inject('redisUrl')!, env, database: a.database });
    try {
      const [urlA, urlB] = [await listen(a), await listen(b)];
      const victim = await a.newUser();
      const from = address();
      const responses: Response[] = [];
      const statements = await a.countStatements(async () => {
        responses.push(
          ...(await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              fetch(i % 2 ? urlA : urlB, {
                method: 'POST',
                headers: { 'content-type': 'application/json', 'x-forwarded-for': from },
                body: JSON.stringify({ query: `mutation ($email: String!, $password: String!) { ${LOGIN('only')} }`, variables: { email: victim.email, password: 'guess' } }),
              }),
            ),
          )),
        );
      });
      expect(statements.filter((sql) => USER_BY_EMAIL.test(sql))).toHaveLength(5);
      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(5);
      expect(statuses.filter((status) => status === 429)).toHaveLength(45);
      for (const response of responses.filter((r) => r.status === 429)) expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    } finally {
      a.app.server.closeAllConnections();
      b.app.server.closeAllConnections();
      await b.close();
      await a.close();
    }
  });
});

/** Eight logins for one email from one address: five are let through, on whatever counts them. */
async function loginsOnOneInstance(t: TestApp, victim: TestUser): Promise<{ statuses: number[]; slowestMs: number }> {
  const from = { 'x-forwarded-for': address() };
  const statuses: number[] = [];
  let slowestMs = 0;
  for (let i = 0; i < 8; i++) {
    const started = performance.now();
    const result = await t.gql(`mutation ($email: String!, $password: String!) { ${LOGIN('only')} }`, { email: victim.email, password: 'guess' }, { headers: from });
    slowestMs = Math.max(slowestMs, performance.now() - started);
    statuses.push(result.status);
    if (result.status === 200) expect(result.errors).toBeUndefined();
  }
  return { statuses, slowestMs };
}

describe.runIf(inject('redisServer'))('limits while Redis is frozen', () => {
  it('hold per instance, with no errors and no request slower than the Redis timeout allows', async () => {
    const redis = await startRedisServer(await freePort());
    const t = await createTestApp(backends().at(-1)!, { redisUrl: redis.url, env: { ...LIMITS, RATE_LIMIT_SIGNUP: '1000/1h', REDIS_BREAKER_PROBE_MS: '100' } });
    try {
      const victim = await t.newUser();
      redis.signal('SIGSTOP');
      const { statuses, slowestMs } = await loginsOnOneInstance(t, victim);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      // The limits' command, the session's and a login's scrypt: a few timeouts at most, never a hang.
      expect(slowestMs).toBeLessThan(4 * t.app.deps.config.REDIS_COMMAND_TIMEOUT_MS + 1_000);
    } finally {
      redis.signal('SIGCONT');
      await t.close();
      await redis.stop();
    }
  });
});

describe('limits while Redis is down', () => {
  it('hold per instance, with no errors and no request slower than the Redis timeout', async () => {
    const t = await createTestApp(backends()[0]!, { redisUrl: 'redis://127.0.0.1:1', env: { ...LIMITS, RATE_LIMIT_SIGNUP: '1000/1h' } });
    try {
      const { statuses, slowestMs } = await loginsOnOneInstance(t, await t.newUser());
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
      // A refused connection fails at once; a login's scrypt is what takes time.
      expect(slowestMs).toBeLessThan(t.app.deps.config.REDIS_COMMAND_TIMEOUT_MS + 1_000);
    } finally {
      await t.close();
    }
  });
});
