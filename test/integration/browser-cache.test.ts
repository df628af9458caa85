import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { hasChromium, launchChromium } from '../helpers/chromium.js';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, TEST_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

const LIST = 'query List($id: ID!) { context(id: $id) { name memories(first: 20) { edges { node { id content } } } } }';

/** What the page's code sees of a reply: the status, the headers CORS lets it read, and the body. */
interface Seen {
  status: number;
  etag: string | null;
  rateLimit: (string | null)[];
  body: any;
}

/**
 * A page on another origin (another port) calling Recall from browser code, as an app built with
 * urql would: GET for queries (which the browser's HTTP cache may keep), POST for mutations.
 */
describe.runIf(hasChromium())('a browser app on another origin, in Chromium', () => {
  let t: TestApp;
  let api: string;
  let site: Server;
  let browser: Browser;
  let page: Page;

  const fastHits = async (status: string) => t.metric('recall_response_cache_fast_path_hits_total', { status });

  /** Runs `query` from the page: GET for queries (cacheable by the browser), POST for mutations. */
  const call = (query: string, variables: Record<string, unknown>, token: string | null): Promise<Seen> =>
    page.evaluate(
      async ({ api, query, variables, token }) => {
        const headers: Record<string, string> = { accept: 'application/graphql-response+json, application/json;q=0.9' };
        if (token) headers['authorization'] = `Bearer ${token}`;
        const isMutation = query.trimStart().startsWith('mutation');
        const response = isMutation
          ? await fetch(api, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) })
          : await fetch(`${api}?${new URLSearchParams({ query, variables: JSON.stringify(variables) })}`, { headers });
        return {
          status: response.status,
          etag: response.headers.get('etag'),
          rateLimit: ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'].map((name) => response.headers.get(name)),
          body: await response.json(),
        };
      },
      { api, query, variables, token },
    );

  beforeAll(async () => {
    t = await createTestApp(backends()[0]!);
    api = await listen(t);
    site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>An app</title><p>app'));
    await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    page = await browser.newPage();

    // Another origin than the API's: every call is cross-origin, with a preflight for the token.
    await page.goto(`http://localhost:${(site.address() as { port: number }).port}/`);
  });
  afterAll(async () => {
    await browser?.close();
    site?.close();
    await t.close();
  });

  it('logs in, reads its data twice (the second a cached hit), sees its writes, and never another user\'s data', async () => {
    const alice = await t.newUser('Alice');
    const bob = await t.newUser('Bob');
    const login = await call(
      'mutation ($input: LoginInput!) { login(input: $input) { token errors { code } } }',
      { input: { email: alice.email, password: TEST_PASSWORD } },
      null,
    );
    expect(login.status).toBe(200);
    const token: string = login.body.data.login.token;
    const created = await call('mutation { createContext(input: { name: "Trip" }) { context { id } } }', {}, token);
    const id: string = created.body.data.createContext.context.id;
    await call('mutation ($id: ID!) { addMemories(input: { contextId: $id, items: [{ content: "hotel booked" }] }) { memories { id } } }', { id }, token);

    const first = await call(LIST, { id }, token);
    const [hitsBefore, revalidationsBefore] = [await fastHits('200'), await fastHits('304')];
    const second = await call(LIST, { id }, token);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.data).toEqual(first.body.data);
    // The page's code reads the validator and the budget (exposed to it by CORS).
    expect(second.etag).toMatch(/^"[\w-]+"$/);
    expect(second.rateLimit.every((value) => value !== null && /^\d+$/.test(value))).toBe(true);
    // The browser kept the first answer, and asked before showing it again: the front answered
    // its If-None-Match with a 304 (the browser alone would have answered nothing here).
    expect(await fastHits('304')).toBe(revalidationsBefore + 1);
    expect(await fastHits('200')).toBe(hitsBefore);

    await call('mutation ($id: ID!) { addMemories(input: { contextId: $id, items: [{ content: "train at 9" }] }) { memories { id } } }', { id }, token);
    const afterWrite = await call(LIST, { id }, token);
    expect(afterWrite.body.data.context.memories.edges.map((edge: any) => edge.node.content).sort()).toEqual(['hotel booked', 'train at 9']);

    // The same URL with Bob's token: the browser must not answer it from Alice's copy.
    const asBob = await call(LIST, { id }, bob.token);
    expect(asBob.status).toBe(200);
    expect(asBob.body.data.context).toBeNull();
    expect(JSON.stringify(asBob.body)).not.toContain('hotel');
    // And back to Alice: hers again, fresh.
    expect((await call(LIST, { id }, token)).body.data.context.name).toBe('Trip');
  });
});
