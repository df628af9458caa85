import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { admissionOf, budgetOfRequest } from '../admission/admission.js';
import {
  CACHE_DEBUG_HEADER,
  cacheDebugExtension,
  matchesIfNoneMatch,
  replyExtensions,
  resultHeaders,
  showsCacheDebug,
} from '../http/reply.js';
import { isAdmin } from '../request-scope.js';
import { responseCacheOutcome } from './use-recall-response-cache.js';

export interface ReplyPluginOptions {
  /** Development mode: the cache metadata is shown to everyone. */
  development: boolean;
}

/**
 * Turns what yoga answers into Recall's reply, through the reply module the cached-hit front
 * uses too: the ETag, Cache-Control and RateLimit-* headers, `extensions.cost`,
 * `extensions.cache` for those who may see it, a 304 when the client's If-None-Match names the
 * result (a fresh one as much as a cached one). yoga keeps
 * choosing the media type and writing the body.
 */
export function useReply(options: ReplyPluginOptions): Plugin {
  const replies = new WeakMap<Request, { headers: Record<string, string>; etag: string | null }>();
  return {
    async onResultProcess({ request, result, setResult, serverContext }) {
      if (Array.isArray(result)) {
        // A batch: its operations spent one by one; the reply tells the budget the last one left.
        const budget = budgetOfRequest(request);
        if (budget) replies.set(request, { headers: resultHeaders({ etag: null, kept: false, budget }), etag: null });
        return;
      }
      // A lone operation's context is the server context (see admission.ts).
      const admitted = admissionOf(serverContext);
      if (!admitted) return;
      if (isAsyncIterable(result)) {
        replies.set(request, { headers: resultHeaders({ etag: null, kept: false, budget: admitted.budget }), etag: null });
        return;
      }
      const outcome = await responseCacheOutcome(serverContext);
      const etag = outcome?.etag ?? null;
      const maxAgeSeconds = outcome?.maxAgeSeconds ?? null;
      replies.set(request, { headers: resultHeaders({ etag, kept: maxAgeSeconds !== null, budget: admitted.budget }), etag });
      const debug = showsCacheDebug({
        development: options.development,
        isAdmin: admitted.viewer ? isAdmin(admitted.viewer) : false,
        debugHeader: request.headers.get(CACHE_DEBUG_HEADER),
      });
      const extensions = { ...result.extensions, ...replyExtensions(admitted.budget), ...(outcome && debug ? cacheDebugExtension(outcome.hit, maxAgeSeconds ?? 0) : {}) };
      if (Object.keys(extensions).length > 0) setResult({ ...result, extensions });
    },
    onResponse({ request, response, setResponse, fetchAPI }) {
      const reply = replies.get(request);
      if (!reply) return;
      for (const [name, value] of Object.entries(reply.headers)) response.headers.set(name, value);
      if (reply.etag && response.status === 200 && matchesIfNoneMatch(request.headers.get('if-none-match'), reply.etag)) {
        const headers = new fetchAPI.Headers(response.headers);
        headers.delete('content-type');
        headers.delete('content-length');
        setResponse(new fetchAPI.Response(null, { status: 304, headers }));
      }
    },
  };
}
