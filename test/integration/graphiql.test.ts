import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { hasChromium, launchChromium, requestsOutside } from '../helpers/chromium.js';
import { listen } from '../helpers/subscriptions.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { backends } from '../helpers/test-database.js';

/** Where the screenshot goes (git ignores it): a person can look at what the test saw. */
const SCREENSHOT = new URL('../../test-results/graphiql.png', import.meta.url);

describe.runIf(hasChromium())('GraphiQL in Chromium', () => {
  let t: TestApp;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    t = await createTestApp(backends()[0]!);
    url = await listen(t);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await t.close();
  });

  it('renders with no network but the server, runs a query with the token from the Headers tab, and is screenshotted', async () => {
    const user = await t.newUser('Grace');
    await t.gql('mutation { createContext(input: { name: "Seen in GraphiQL" }) { context { id } } }', {}, { token: user.token });
    const page = await browser.newPage();
    const outside = requestsOutside(page);
    await page.goto(url);
    await page.getByText('Welcome to Recall.').waitFor();

    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await queryEditor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // insertText types no key events, so the editor's bracket completion adds nothing.
    await page.keyboard.insertText('query Probe { viewer { name } contexts { edges { node { name } } } }');

    await page.getByText('Headers', { exact: true }).click();
    await page.locator('.graphiql-editor-tool .monaco-editor').last().click();
    await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${user.token}` }));

    await page.locator('.graphiql-execute-button').click();
    // The editor shows spaces as no-break spaces.
    const response = async () => (await page.locator('.graphiql-response').innerText()).replace(/\s+/g, ' ');
    await expect.poll(response, { timeout: 15_000 }).toContain('"name": "Seen in GraphiQL"');
    expect(await response()).toContain('"viewer": { "name": "Grace" }');
    mkdirSync(new URL('.', SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT.pathname, fullPage: true });
    expect(outside).toEqual([]);
  });
});
