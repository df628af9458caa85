import { inject } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Whether the browser tests can run here (see global-setup: .ci/run requires Chromium). */
export const hasChromium = (): boolean => inject('chromium') !== null;

/**
 * Starts headless Chromium. The flags keep it off the network: this machine's network is closed
 * and a browser test must not depend on anything but the servers it starts.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: inject('chromium')!,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Fails the page's requests to anything but localhost, and returns what it tried: an offline page must try nothing. */
export async function offline(page: Page): Promise<string[]> {
  const outside: string[] = [];
  await page.route(
    (url) => !['127.0.0.1', 'localhost'].includes(url.hostname) && url.protocol !== 'blob:' && url.protocol !== 'data:',
    (route) => {
      outside.push(route.request().url());
      return route.abort('internetdisconnected');
    },
  );
  return outside;
}
