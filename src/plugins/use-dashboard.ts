import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Plugin } from 'graphql-yoga';

export interface DashboardOptions {
  /** Default: /dashboard. */
  path?: string;
}

interface Asset {
  body: string;
  type: string;
}

/**
 * The page loads nothing but its own files and talks to nothing but this server: no inline
 * script or style (so an injected one does not run), no frames, no forms posted anywhere.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const HERE = new URL('../http/dashboard/', import.meta.url);
const require = createRequire(import.meta.url);

/** Read once, when the app is built: the page is small, and a missing file fails at start, not on a visit. */
function readAssets(path: string): Map<string, Asset> {
  const own = (file: string) => readFileSync(new URL(file, HERE), 'utf8');
  const uplot = (file: string) => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
  const html = { body: own('index.html'), type: 'text/html' };
  return new Map([
    [path, html],
    [`${path}/`, html],
    [`${path}/assets/dashboard.js`, { body: own('dashboard.js'), type: 'text/javascript' }],
    [`${path}/assets/dashboard.css`, { body: own('dashboard.css'), type: 'text/css' }],
    [`${path}/assets/uplot.js`, { body: uplot('uPlot.iife.min.js'), type: 'text/javascript' }],
    [`${path}/assets/uplot.css`, { body: uplot('uPlot.min.css'), type: 'text/css' }],
  ]);
}

/**
 * GET /dashboard: the live cache dashboard, a static page (no data in it, so no sign-in to load
 * it); everything it shows it asks GraphQL for, with the token its sign-in form got, which it
 * keeps in memory only.
 */
export function useDashboard({ path = '/dashboard' }: DashboardOptions = {}): Plugin {
  const assets = readAssets(path);
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      const asset = assets.get(url.pathname);
      if (!asset) return;
      endResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : asset.body, {
          headers: {
            'content-type': `${asset.type}; charset=utf-8`,
            // Revalidated on every visit: a deployment's new page is never mixed with an old script.
            'cache-control': 'no-cache',
            'content-security-policy': CONTENT_SECURITY_POLICY,
            'x-content-type-options': 'nosniff',
            'referrer-policy': 'no-referrer',
          },
        }),
      );
    },
  };
}
