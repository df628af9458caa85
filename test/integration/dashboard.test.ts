import { mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeAdmin } from '../../src/auth/admins.js';
import { hasChromium, launchChromium, requestsOutside } from '../helpers/chromium.js';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, TEST_PASSWORD, type TestApp, type TestUser } from '../helpers/test-app.js';

/** Where the screenshot goes (git ignores it): a person can look at what the test saw. */
const SCREENSHOT = new URL('../../test-results/dashboard.png', import.meta.url);
const ADMIN_EMAIL = 'dashboard-admin@example.com';

const READ = 'query ($id: ID!) { context(id: $id) { id name } }';
const RENAME = 'mutation ($id: ID!, $name: String!) { updateContext(input: { id: $id, name: $name }) { context { id version } } }';

/** Signs in through the page's form. */
async function signIn(page: Page, email: string) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(TEST_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The browser's console errors: a CSP violation, a failed script or an uncaught error shows here. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}

// Redis: the response cache counts its lookups by tier there, which is what the response tile shows.
describe.runIf(hasChromium() && inject('redisUrl'))('the cache dashboard in Chromium', () => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let user: TestUser;
  let contextId: string;
  let page: Page;
  let outside: string[];
  let errors: string[];

  beforeAll(async () => {
    t = await createTestApp('pglite', { redisUrl: inject('redisUrl')! });
    base = (await listen(t)).replace(/\/graphql$/, '');
    await makeAdmin(t.app.deps, ADMIN_EMAIL, TEST_PASSWORD);
    user = await t.newUser('Grace');
    contextId = (await t.gql('mutation { createContext(input: { name: "Watched" }) { context { id } } }', {}, { token: user.token })).data.createContext.context.id;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    outside = requestsOutside(page);
    errors = consoleErrors(page);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    t.app.server.closeAllConnections();
    await t.close();
  });

  it('serves the page and its assets from the package, with the header policy and a CSP that allows no inline script', async () => {
    const html = await fetch(`${base}/dashboard`, { headers: { origin: 'https://elsewhere.example' } });
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = html.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(html.headers.get('vary')).toBe('Origin, Authorization, Accept');
    const text = await html.text();
    expect(text).not.toMatch(/<script>|<style>|https?:\/\//);
    for (const [asset, type] of [
      ['dashboard.js', 'text/javascript'],
      ['dashboard.css', 'text/css'],
      ['uplot.js', 'text/javascript'],
      ['uplot.css', 'text/css'],
    ]) {
      const response = await fetch(`${base}/dashboard/assets/${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get('content-type')).toBe(`${type}; charset=utf-8`);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect((await fetch(`${base}/dashboard/assets/missing.js`)).status).toBe(404);
  });

  it('signs an admin in, moves the ratios after queries, shows an invalidation made through the API, and is screenshotted', async () => {
    const streams = t.events.streams.size;
    await page.goto(`${base}/dashboard`);
    expect(await page.locator('#board').isHidden()).toBe(true);
    await signIn(page, ADMIN_EMAIL);
    await page.locator('#board').waitFor();
    await expect.poll(() => page.locator('#feed-state').innerText(), { timeout: 10_000 }).toBe('live');
    expect(t.events.streams.size).toBe(streams + 1);
    // The token is kept in memory only.
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, '']);

    // The same read twice: a miss, then a hit of the response cache.
    await page.locator('#response-counts').getByText(/^0 hits/).waitFor();
    for (let i = 0; i < 2; i += 1) expect((await t.gql(READ, { id: contextId }, { token: user.token })).data.context.name).toBe('Watched');
    await page.locator('#response-counts').getByText(/^1 hit,/).waitFor({ timeout: 10_000 });
    expect(await page.locator('#response-ratio').innerText()).not.toBe('0.0 %');
    // The first read looked the context up: the table counts what the server's counters do.
    const contextLookups = await t.metric('recall_cache_lookups_total', { kind: 'context' });
    expect(contextLookups).toBeGreaterThan(0);
    const shownLookups = () =>
      page.$$eval('#lookups tbody tr', (rows: HTMLTableRowElement[]) =>
        rows
          .map((row) => [...row.cells].map((cell) => cell.textContent ?? ''))
          .filter((cells) => cells[0] === 'context')
          .reduce((sum, cells) => sum + Number(cells[2]) + Number(cells[3]), 0),
      );
    await expect.poll(shownLookups, { timeout: 10_000 }).toBe(contextLookups);

    await t.gql(RENAME, { id: contextId, name: 'Renamed' }, { token: user.token });
    const item = page.locator('#feed li[data-reason="CONTEXT_UPDATED"]');
    await item.waitFor({ timeout: 10_000 });
    expect(await item.innerText()).toContain(`Context ${contextId}`);
    await expect.poll(() => page.locator('#kind-chart canvas').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#latency-chart canvas').count()).toBeGreaterThan(0);

    mkdirSync(new URL('.', SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true });
    expect(outside).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('purges the entity of a feed item, and everything after a confirmation, through purgeCache', async () => {
    const entity = page.locator('#feed li[data-reason="CONTEXT_UPDATED"] .entity', { hasText: `Context ${contextId}` });
    await entity.getByRole('button', { name: 'Purge' }).click();
    await expect.poll(() => page.locator('#purge-result').innerText(), { timeout: 10_000 }).toMatch(new RegExp(`^Purged Context ${contextId}: \\d+ keys or tags invalidated\\.$`));
    // The purge goes through the invalidation path: the feed shows it as it shows writes.
    await page.locator('#feed li[data-reason="ADMIN_PURGE"]').first().waitFor({ timeout: 10_000 });

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Purge all…' }).click();
    await expect.poll(() => page.locator('#purge-result').innerText(), { timeout: 10_000 }).toMatch(/^Purged everything: \d+ keys or tags invalidated\.$/);
    expect(errors).toEqual([]);
  });

  it('shows a non-admin a refusal, and opens no feed for them', async () => {
    const other = await browser.newPage();
    try {
      const streams = t.events.streams.size;
      await other.goto(`${base}/dashboard`);
      await signIn(other, user.email);
      await other.locator('#refusal').waitFor();
      expect(await other.locator('#refusal-text').innerText()).toContain(`${user.email} is not an admin`);
      expect(await other.locator('#refusal-text').innerText()).toContain('FORBIDDEN');
      expect(await other.locator('#board').isHidden()).toBe(true);
      expect(t.events.streams.size).toBe(streams);
    } finally {
      await other.close();
    }
  });
});
