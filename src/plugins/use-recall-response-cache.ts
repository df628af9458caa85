import { hash } from 'node:crypto';
import stableStringify from 'fast-json-stable-stringify';
import { useResponseCache } from '@graphql-yoga/plugin-response-cache';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ResponseStore } from '../cache/response-store.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { GraphQLContext } from '../graphql-context.js';
import { viewerOf } from './use-authentication.js';

export interface RecallResponseCacheOptions {
  config: Config;
  store: ResponseStore;
  clock: Clock;
}

/** Admins may ask for the cache metadata of a response with this header set to 1. */
export const CACHE_DEBUG_HEADER = 'x-recall-cache-debug';

const uncached = new WeakSet<Request>();

/**
 * Keeps the response cache out of an operation. For operations over WebSocket: yoga's plugin
 * keys and serves responses in its HTTP parameter phase, which graphql-ws does not go through.
 */
export function bypassResponseCache(request: Request): void {
  uncached.add(request);
}

export interface ResponseKeyParams {
  documentString: string;
  variableValues?: Record<string, unknown> | null | undefined;
  operationName?: string | null | undefined;
  sessionId?: string | null | undefined;
}

/**
 * The key of a cached response, which is also its ETag: the viewer's id, then a hash of the
 * operation and the viewer (what the plugin's default key hashes, with a synchronous hash: this
 * is on the path of every hit). An ETag therefore shows whose it is, and another viewer's is
 * ignored rather than answered with a 304.
 */
export function responseCacheKey(params: ResponseKeyParams): string {
  const digest = hash('sha256', [params.documentString, params.operationName ?? '', stableStringify(params.variableValues ?? {}), params.sessionId ?? ''].join('|'), 'hex');
  return `${params.sessionId ?? ''}:${digest}`;
}

const etagOwner = (etag: string): string => etag.slice(0, etag.indexOf(':'));

interface CacheMetadata {
  hit?: boolean;
  didCache?: boolean;
  ttl?: number;
}

/**
 * Whole query responses, cached per viewer: the cache session is the user id that
 * `useAuthentication` has already validated. Services invalidate exactly what they wrote and
 * wait for it before replying; the plugin's own invalidation by the entities of a mutation's
 * answer (which it does not wait for) stays on, as it is also what keeps mutations uncached.
 */
export function useRecallResponseCache({ config, store, clock }: RecallResponseCacheOptions): Plugin[] {
  return [
    {
      // Before yoga's plugin, which answers If-None-Match with a 304 for any live entry.
      onRequest({ request }) {
        const etag = request.headers.get('if-none-match');
        if (etag && etagOwner(etag) !== (viewerOf(request)?.user.id ?? '')) request.headers.delete('if-none-match');
      },
    },
    useResponseCache({
      buildResponseCacheKey: responseCacheKey,
      session: (request) => viewerOf(request)?.user.id ?? null,
      enabled: (request) => config.RESPONSE_CACHE_ENABLED && !uncached.has(request),
      cache: store,
      ttl: config.RESPONSE_CACHE_TTL_SECONDS * 1000,
      includeExtensionMetadata: true,
      onTtl: ({ ttl, context }) => {
        const until = (context as Partial<GraphQLContext>).cacheableUntil?.at ?? Infinity;
        return Math.max(0, Math.min(ttl, until - clock.now().getTime()));
      },
    }),
    {
      // Cache-Control for every query answer, and the metadata only for those allowed to see it.
      onResultProcess({ request, result, setResult }) {
        if (Array.isArray(result) || !isExecutionResult(result)) return;
        const extensions = { ...(result.extensions as Record<string, unknown> | undefined) };
        const metadata = extensions['responseCache'] as CacheMetadata | undefined;
        if (!metadata) return;
        delete extensions['responseCache'];
        const http = (extensions['http'] ?? {}) as { headers?: Record<string, string> };
        const headers = { ...http.headers };
        if (metadata.didCache && metadata.ttl !== undefined) {
          headers['Cache-Control'] = `private, max-age=${Math.floor(metadata.ttl / 1000)}`;
        } else if (!metadata.hit) {
          headers['Cache-Control'] = 'no-store';
        }
        extensions['http'] = { ...http, headers };
        const viewer = viewerOf(request);
        const debug = viewer?.user.role === 'ADMIN' && request.headers.get(CACHE_DEBUG_HEADER) === '1';
        if (config.NODE_ENV === 'development' || debug) {
          const maxAge = /max-age=(\d+)/.exec(headers['Cache-Control'] ?? '')?.[1];
          extensions['cache'] = { hit: metadata.hit ?? false, ttl: maxAge === undefined ? 0 : Number(maxAge) };
        }
        setResult({ ...result, extensions });
      },
    },
  ];
}

function isExecutionResult(value: unknown): value is ExecutionResult {
  return typeof value === 'object' && value !== null && !(Symbol.asyncIterator in value);
}
