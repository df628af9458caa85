import { csrfRefused, type Refusal } from '../admission/refusal.js';

/**
 * The one CSRF rule, for every transport (the HTTP server, before the cached-hit front and yoga,
 * and yoga itself for in-process requests): a POST runs only if a browser would have had to ask
 * first. A page may send another origin a "simple" request without asking: GET, HEAD or POST
 * with no Content-Type or a form, multipart or text/plain one, and only safelisted headers. It
 * cannot read the reply unless CORS allows it, but the request runs all the same. Anything else
 * needs a preflight, which only origins in CORS_ORIGINS pass.
 *
 * - A POST passes when its body is JSON (`application/json` is not safelisted, so a page had to
 *   ask), or when it carries one of `PREFLIGHT_HEADERS`. Everything else is refused: the simple
 *   types, `application/graphql` (not safelisted, yet refused as the issue asks: no Recall client
 *   sends it without a token) and any other type, so that no difference between how a browser,
 *   this check and yoga's parsers read a Content-Type can let a simple request through.
 * - GET and HEAD pass: yoga runs no mutation over GET (405), and EventSource, persisted queries
 *   by hash and browser caching all need a plain GET. Other methods always need a preflight.
 */

/**
 * Headers a page cannot send to another origin without a preflight: the bearer token, and the
 * markers yoga's and Apollo's clients send for this very purpose. A header that a proxy adds
 * (X-Forwarded-For) is not one: it would pass a request the browser never asked about.
 */
export const PREFLIGHT_HEADERS = ['Authorization', 'X-GraphQL-Yoga-CSRF', 'Apollo-Require-Preflight'] as const;

const LOWER_PREFLIGHT_HEADERS = PREFLIGHT_HEADERS.map((name) => name.toLowerCase());

/** The request as any transport sees it: its method, and its headers by lower-case name (absent: null or undefined). */
export interface CsrfCheckedRequest {
  method: string | undefined;
  header(name: string): string | null | undefined;
}

/** Why the request must not run, or null when it may. */
export function csrfRefusal(request: CsrfCheckedRequest): Refusal | null {
  if (request.method !== 'POST') return null;
  if (LOWER_PREFLIGHT_HEADERS.some((name) => request.header(name) != null)) return null;
  const contentType = request.header('content-type') ?? null;
  // The essence, as browsers compare it: parameters (charset) and case do not count.
  const essence = contentType?.split(';', 1)[0]!.trim().toLowerCase() ?? null;
  if (essence === 'application/json') return null;
  // Named in the message, but never more of it than a media type needs.
  return csrfRefused(essence === null ? null : essence.slice(0, 100), PREFLIGHT_HEADERS);
}
