import { inject } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Whether the browser tests can run here (see global-setup: .ci/run requires Chromium). */
export const hasChromium = (): boolean => inject('chromium') !== null;

/**
 * Starts headless Chromium with no network but this machine: no host name resolves except
 * localhost, so a page that works here works offline. (Not with request interception, which
 * would also turn off the HTTP cache the browser tests are about.)
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: inject('chromium')!,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
    ],
  });
}

/** The requests the page makes to anything but this machine: an offline page must make none. */
export function requestsOutside(page: Page): string[] {
  const outside: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) && !['127.0.0.1', 'localhost'].includes(url.hostname)) outside.push(url.href);
  });
  return outside;
}
