import { hash } from 'node:crypto';
import stableStringify from 'fast-json-stable-stringify';
import { GraphQLError, type ExecutionResult, type GraphQLFormattedError } from 'graphql';
import { budgetHeaders, costExtension, type Refusal } from '../admission/refusal.js';
import type { BudgetDecision } from '../rate-limit/rate-limiter.js';

/**
 * How a GraphQL result becomes an HTTP reply: the response-cache key, the ETag, Cache-Control,
 * the 304 decision, the media type, the body and the debug extension (the headers every reply
 * carries, CORS and Vary, are the HTTP server's: see header-policy.ts). yoga's plugins and the
 * cached-hit front both call these, and nothing else takes those steps, so a cached hit is the
 * same bytes and headers whichever path answers it.
 */

export type JsonMediaType = 'application/graphql-response+json' | 'application/json';

/**
 * The media type of a single JSON result, chosen as yoga chooses it: the first listed type that
 * is one of the two (a wildcard answers `application/json`), ignoring entries with a charset
 * other than UTF-8; null when no listed type allows JSON (yoga then streams, or refuses).
 */
export function jsonMediaType(accept: string | null | undefined): JsonMediaType | null {
  const key = accept ?? '';
  const known = mediaTypes.get(key);
  if (known !== undefined) return known;
  const chosen = negotiate(key);
  // Clients send few distinct Accept headers; the bound keeps odd ones from growing the map.
  if (mediaTypes.size < 256) mediaTypes.set(key, chosen);
  return chosen;
}

const mediaTypes = new Map<string, JsonMediaType | null>();

function negotiate(accept: string): JsonMediaType | null {
  for (const entry of (accept || '*/*').replace(/\s/g, '').toLowerCase().split(',')) {
    const [type = '', ...params] = entry.split(';');
    const charset = params.find((param) => param.startsWith('charset='));
    if (charset && charset !== 'charset=utf-8') continue;
    const [major, minor] = type.split('/');
    if ((major === 'application' || major === '*') && (minor === 'json' || minor === '*')) return 'application/json';
    if (major === 'application' && minor === 'graphql-response+json') return 'application/graphql-response+json';
  }
  return null;
}

export interface ResponseKeyParams {
  documentString: string;
  variableValues?: Record<string, unknown> | null | undefined;
  operationName?: string | null | undefined;
  /** The viewer's `responseCacheIdentity`: responses are private to their viewer. */
  sessionId: string;
}

/** The key of a cached response: a hash of the operation and its viewer (synchronous: it is on every hit's path). */
export function responseCacheKey(params: ResponseKeyParams): string {
  return hash(
    'sha256',
    [params.documentString, params.operationName ?? '', stableStringify(params.variableValues ?? {}), params.sessionId].join('|'),
    'hex',
  );
}

/**
 * A strong validator of a result for one viewer: a quoted hash of the viewer and the data. The
 * same data for another viewer has another ETag, so another's never earns a 304.
 */
export function etagOf(viewerIdentity: string, data: unknown): string {
  return `"${hash('sha256', `${viewerIdentity}\n${JSON.stringify(data)}`, 'base64url').slice(0, 27)}"`;
}

/** RFC 9110 If-None-Match: `*`, or a list of entity tags compared weakly (a `W/` prefix is ignored). */
export function matchesIfNoneMatch(header: string | null | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return (header.match(/(?:W\/)?"[^"]*"/g) ?? []).some((tag) => tag.replace(/^W\//, '') === opaque);
}

/**
 * Cache-Control of a query result. One the response cache holds (`kept`) may be kept by the
 * viewer's browser too, but is revalidated on every use (`no-cache`): a browser never shows data
 * older than the last write it could know of (read-your-writes holds), and the If-None-Match it
 * sends makes the revalidation a 304 with no body. Any other (anonymous, a mutation's, or one a
 * write raced and Recall refused to keep) is not to be kept at all.
 */
export function cacheControl(kept: boolean): string {
  return kept ? 'private, no-cache' : 'no-store';
}

/** Admins may ask for the cache metadata of a response with this header set to 1. */
export const CACHE_DEBUG_HEADER = 'x-recall-cache-debug';

/** Whether the reply shows `extensions.cache`: always in development, else to admins who ask. */
export function showsCacheDebug(options: { development: boolean; isAdmin: boolean; debugHeader: string | null | undefined }): boolean {
  return options.development || (options.isAdmin && options.debugHeader === '1');
}

/** What `extensions` shows when `showsCacheDebug`: whether the response cache answered, and the seconds the response may be kept. */
export function cacheDebugExtension(hit: boolean, ttlSeconds: number): { cache: { hit: boolean; ttl: number } } {
  return { cache: { hit, ttl: ttlSeconds } };
}

/** The headers of a query result's reply (and of its 304). */
export function resultHeaders(options: { etag: string | null; kept: boolean; budget: BudgetDecision | null }): Record<string, string> {
  const headers: Record<string, string> = { 'Cache-Control': cacheControl(options.kept) };
  if (options.etag) headers['ETag'] = options.etag;
  if (options.budget) Object.assign(headers, budgetHeaders(options.budget));
  return headers;
}

/** The body of a result without errors, as yoga writes it. */
export function resultBody(result: ExecutionResult, extensions?: Record<string, unknown>): string {
  return JSON.stringify({ data: result.data, ...(extensions ? { extensions } : {}) });
}

/** A body `resultBody` wrote without extensions, with `extensions` added: the data's bytes are not written again. */
export function withExtensions(body: Buffer, extensions: Record<string, unknown>): Buffer {
  if (Object.keys(extensions).length === 0) return body;
  const tail = `,"extensions":${JSON.stringify(extensions)}}`;
  const bytes = Buffer.allocUnsafe(body.length - 1 + Buffer.byteLength(tail));
  body.copy(bytes, 0, 0, body.length - 1);
  bytes.write(tail, body.length - 1);
  return bytes;
}

/** What every counted result's `extensions` carries: its cost, and the budget left (see `costExtension`). */
export const replyExtensions = (budget: BudgetDecision | null): Record<string, unknown> => (budget ? costExtension(budget) : {});

/** A refusal over HTTP: its status and headers, and the GraphQL error as the body, in the accepted media type. */
export function refusalReply(refusal: Refusal, accept: string | null | undefined): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: refusal.status,
    headers: { 'Content-Type': `${jsonMediaType(accept) ?? 'application/json'}; charset=utf-8`, ...refusal.headers },
    body: JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code, ...refusal.extensions } }] }),
  };
}

/**
 * An error as clients receive it in a stream (SSE events, WebSocket results): `extensions.http` is
 * how a resolver sets the status of a plain HTTP reply, which yoga strips there; it is not for clients.
 */
export function withoutHttp(error: GraphQLError): GraphQLFormattedError {
  const { http: _http, ...extensions } = error.toJSON().extensions ?? {};
  return { ...error.toJSON(), extensions };
}

/**
 * A refusal as a GraphQL error: what a WebSocket operation ends with, and, `overHttp`, what yoga
 * answers with (its status and headers ride in `extensions.http`, which yoga applies and never
 * shows): the same message and extensions as `refusalReply`'s body.
 */
export function refusalError(refusal: Refusal, options: { overHttp?: boolean } = {}): GraphQLError {
  const http = options.overHttp ? { http: { status: refusal.status, headers: refusal.headers } } : {};
  return new GraphQLError(refusal.message, { extensions: { code: refusal.code, ...refusal.extensions, ...http } });
}
