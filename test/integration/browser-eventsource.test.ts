import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../helpers/chromium.js';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp, type TestUser } from '../helpers/test-app.js';

const CREATE = 'mutation ($n: String!) { createContext(input: { name: $n }) { context { id } } }';

describe.runIf(hasChromium())('a real EventSource in Chromium', () => {
  let t: TestApp;
  let base: string;
  let user: TestUser;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    t = await createTestApp('pglite');
    base = (await listen(t)).replace(/\/graphql$/, '');
    user = await t.newUser();
    browser = await launchChromium();
    page = await browser.newPage();
    // Same origin as the API: what is tested is EventSource, not CORS.
    await page.goto(`${base}/livez`);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    t.app.server.closeAllConnections();
    await t.close();
  });

  it('receives cacheInvalidated through the single-connection mode, with no headers on the stream', async () => {
    await page.evaluate(async (token) => {
      const auth = { authorization: `Bearer ${token}` };
      const streamToken = await (await fetch('/graphql/stream', { method: 'PUT', headers: auth })).text();
      const source = new EventSource(`/graphql/stream?token=${streamToken}`);
      const received: unknown[] = [];
      (window as unknown as { received: unknown[] }).received = received;
      source.addEventListener('next', (event) => received.push(JSON.parse((event as MessageEvent).data)));
      await new Promise((resolve) => (source.onopen = resolve));
      const subscribed = await fetch('/graphql/stream', {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'x-graphql-event-stream-token': streamToken },
        body: JSON.stringify({ query: 'subscription { cacheInvalidated { reason contextId } }', extensions: { operationId: 'inv' } }),
      });
      if (subscribed.status !== 202) throw new Error(`subscribe: ${subscribed.status}`);
    }, user.token);
    await expect.poll(() => t.events.streams.size).toBe(1);
    const contextId = (await t.gql(CREATE, { n: 'Seen in Chromium' }, { token: user.token })).data.createContext.context.id;
    await page.waitForFunction(() => (window as unknown as { received: unknown[] }).received.length > 0);
    const received = await page.evaluate(() => (window as unknown as { received: unknown[] }).received);
    expect(received).toEqual([{ id: 'inv', payload: expect.objectContaining({ data: { cacheInvalidated: { reason: 'CONTEXT_CREATED', contextId } } }) }]);
  });

  it('stops (CLOSED, no reconnection) when its subscription is refused', async () => {
    let requests = 0;
    const count = (req: { url?: string }) => {
      if (req.url?.startsWith('/graphql?')) requests += 1;
    };
    t.app.server.on('request', count);
    try {
      const outcome = await page.evaluate(async () => {
        const query = encodeURIComponent('subscription { cacheInvalidated { id } }');
        const source = new EventSource(`/graphql?query=${query}`);
        const readyState = await new Promise<number>((resolve) => (source.onerror = () => resolve(source.readyState)));
        // Past EventSource's reconnection delay (3 s in Chromium): it did not come back.
        await new Promise((resolve) => setTimeout(resolve, 3_500));
        return { readyState, after: source.readyState };
      });
      expect(outcome).toEqual({ readyState: 2, after: 2 });
      expect(requests).toBe(1);
    } finally {
      t.app.server.off('request', count);
    }
  });
});
