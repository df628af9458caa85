import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The headers every reply carries, whoever writes it: the cached-hit front (200 and 304), yoga,
 * the refusals (401, 411, 413, 429), health and the redirect. The HTTP server applies them to the
 * response before any of those runs, so no path can forget them or carry a drifting copy; a
 * CORS preflight is answered here and goes no further.
 */

/** Which origins may call from a browser: any (`*`), or these exact origins. */
export type AllowedOrigins = '*' | readonly string[];

/**
 * What browser code may read besides the CORS-safelisted headers: the validator it revalidates
 * with, the budget, the wait after a 429, and the challenge of a 401.
 */
export const EXPOSED_HEADERS = 'ETag, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, WWW-Authenticate';

/**
 * Replies differ by viewer (the token), by media type and by the CORS answer: a browser cache
 * must keep them apart, even though every cached reply is revalidated (`private, no-cache`).
 */
const VARY = 'Origin, Authorization, Accept';

const PREFLIGHT_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';

/** How long a browser may reuse a preflight's answer, in seconds (Chromium keeps at most 7200). */
const PREFLIGHT_MAX_AGE = '600';

/** Reads `CORS_ORIGINS`: `*`, or a comma-separated list of origins such as `https://app.example.com`. */
export function parseAllowedOrigins(value: string): AllowedOrigins {
  const origins = value
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  if (origins.length === 0 || origins.includes('*')) return '*';
  for (const origin of origins) {
    const url = URL.canParse(origin) ? new URL(origin) : null;
    if (!url || url.origin !== origin) throw new Error(`"${origin}" is not an origin (scheme://host[:port], no path or trailing slash)`);
  }
  return origins;
}

/**
 * Sets the policy's headers on `res` and answers a preflight (or a bare OPTIONS) itself.
 * Returns true when the request has been answered.
 */
export function applyHeaderPolicy(req: IncomingMessage, res: ServerResponse, allowed: AllowedOrigins): boolean {
  const origin = req.headers.origin;
  const permitted = origin !== undefined && (allowed === '*' || allowed.includes(origin));
  if (permitted) {
    if (allowed === '*') {
      // Any page may read replies, never with the browser's credentials: Recall's are bearer
      // tokens the page sends itself, so a page that sends cookies along is refused by its browser.
      res.setHeader('Access-Control-Allow-Origin', '*');
    } else {
      // Only a listed origin, named exactly, may send credentials (`credentials: 'include'`).
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
    }
    res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
  }
  if (req.method !== 'OPTIONS') {
    res.setHeader('Vary', VARY);
    return false;
  }
  res.setHeader('Vary', `${VARY}, Access-Control-Request-Method, Access-Control-Request-Headers`);
  const requestedHeaders = req.headers['access-control-request-headers'];
  if (permitted && req.headers['access-control-request-method']) {
    res.setHeader('Access-Control-Allow-Methods', PREFLIGHT_METHODS);
    // Whatever headers the client's code sends (tracing, client names) are allowed: what
    // matters is the origin, and the token is checked on the request itself.
    if (requestedHeaders) res.setHeader('Access-Control-Allow-Headers', requestedHeaders);
    res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
  }
  res.writeHead(204, { Allow: PREFLIGHT_METHODS, 'Content-Length': '0' }).end();
  return true;
}
