import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

/** Through a real socket: limits, error masking, health and the HTTP surface around GraphQL. */
describe.each(backends())('HTTP surface on %s', (backend) => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp(backend, {
      env: { MAX_BODY_BYTES: '4096', MAX_QUERY_DEPTH: '6', MAX_QUERY_ALIASES: '5', MAX_QUERY_TOKENS: '100' },
    });
    await new Promise<void>((resolve) => t.app.server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    t.app.server.closeAllConnections();
    await new Promise((resolve) => t.app.server.close(resolve));
    await t.close();
  });

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
      body,
    });

  it('answers a query over HTTP', async () => {
    const response = await post(JSON.stringify({ query: '{ viewer { id } }' }));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ data: { viewer: null }, extensions: { cost: { requested: 1 } } });
  });

  it('refuses a body over MAX_BODY_BYTES with 413 before reading it', async () => {
    const response = await post(JSON.stringify({ query: `{ viewer { id } } # ${'x'.repeat(5000)}` }));
    expect(response.status).toBe(413);
    expect((await response.json()).errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses a chunked body without a declared length with 411', async () => {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(JSON.stringify({ query: '{ viewer { id } }' })));
        controller.close();
      },
    });
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(411);
  });

  it('refuses documents nested deeper than MAX_QUERY_DEPTH', async () => {
    // Through fields that are not lists, so that its cost stays low and its depth is what is refused.
    const deep = '{ memory(id: "x") { relevance(contextId: "y") { memory { relevance(contextId: "y") { memory { relevance(contextId: "y") { memory { relevance(contextId: "y") { memory { relevance(contextId: "y") { memory { relevance(contextId: "y") { memory { id } } } } } } } } } } } } } }';
    const response = await post(JSON.stringify({ query: deep }));
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].message).toMatch(/depth/i);
  });

  it('refuses too many aliases', async () => {
    const query = `{ ${Array.from({ length: 6 }, (_, i) => `a${i}: viewer { id }`).join(' ')} }`;
    const response = await post(JSON.stringify({ query }));
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].message).toMatch(/aliases/i);
  });

  it('refuses documents of more than MAX_QUERY_TOKENS tokens', async () => {
    const query = `{ ${Array.from({ length: 150 }, () => '__typename').join(' ')} }`;
    const response = await post(JSON.stringify({ query }));
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].message).toMatch(/token limit/i);
  });

  it.each([
    ['a syntax error', '{ viewer { id }', /Syntax Error/],
    ['an unknown field', '{ viewer { password } }', /Cannot query field "password"/],
    ['a missing argument', '{ memory { id } }', /argument "id" of type "ID!" is required/],
  ])('refuses %s with 400 and a clear message', async (_name, query, message) => {
    const response = await post(JSON.stringify({ query }));
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].message).toMatch(message);
  });

  it('refuses NUL characters in variables and in literals with a clear 400, for any field', async () => {
    const inVariables = await post(JSON.stringify({ query: 'query ($id: ID!) { memory(id: $id) { id } }', variables: { id: 'mem_\u0000' } }));
    expect(inVariables.status).toBe(400);
    expect((await inVariables.json()).errors[0]).toMatchObject({ message: expect.stringMatching(/NUL/), extensions: { code: 'BAD_USER_INPUT' } });
    const nested = await post(
      JSON.stringify({ query: 'mutation ($input: SignUpInput!) { signUp(input: $input) { token } }', variables: { input: { email: 'a@b.co', password: 'pass\u0000word' } } }),
    );
    expect(nested.status).toBe(400);
    const inLiteral = await post(JSON.stringify({ query: '{ context(id: "ctx_\\u0000") { id } }' }));
    expect(inLiteral.status).toBe(400);
    expect((await inLiteral.json()).errors[0].message).toMatch(/NUL/);
  });

  it('refuses a body that is not JSON', async () => {
    const response = await post('{ not json');
    expect(response.status).toBe(400);
  });

  it('serves GraphiQL to browsers and redirects / to it', async () => {
    const page = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Recall</title>');
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/graphql');
  });

  it('reports health per dependency', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      checks: { database: { status: 'ok', driver: backend, latencyMs: expect.any(Number) } },
    });
    expect((await fetch(`${base}/livez`)).status).toBe(200);
  });
});

describe.each(backends())('a database outage on %s', (backend) => {
  it('masks the failure for clients, reports down on /health, and keeps serving', async () => {
    const t = await createTestApp(backend);
    const user = await t.newUser();
    await t.database.db.close();
    try {
      const result = await t.gql('{ contexts { edges { node { id } } } }', {}, { token: user.token });
      expect(result.errors).toEqual([expect.objectContaining({ message: 'Unexpected error.' })]);
      expect(JSON.stringify(result)).not.toMatch(/stack|pglite|pool|closed/i);

      const health = await t.app.yoga.fetch('http://recall.test/health');
      expect(health.status).toBe(503);
      const report = await health.json();
      expect(report).toEqual({
        status: 'down',
        checks: { database: { status: 'down', driver: backend, latencyMs: expect.any(Number) }, redis: { status: 'disabled' } },
      });

      const anonymous = await t.gql('{ viewer { id } }');
      expect(anonymous.data).toEqual({ viewer: null });
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
