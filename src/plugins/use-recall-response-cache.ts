import { useResponseCache, type Cache as EnvelopCache } from '@envelop/response-cache';
import type { Plugin } from 'graphql-yoga';
import { admissionOf } from '../admission/admission.js';
import type { CacheMetrics } from '../cache/cache-metrics.js';
import { POSITION_TTL_MS } from '../cache/redis-invalidation-log.js';
import { tagsOf, type ResponseStore } from '../cache/response-store.js';
import { viewerTag } from '../cache/response-tags.js';
import type { Clock } from '../clock.js';
import type { GraphQLContext } from '../graphql-context.js';
import { missedByFront } from '../http/cached-hit-front.js';
import { etagOf, responseCacheKey } from '../http/reply.js';
import { isWebSocketOperation } from '../http/websocket-transport.js';
import type { AccessRecorder } from '../relevance/access-recorder.js';
import { responseCacheIdentity } from '../request-scope.js';

export interface RecallResponseCacheOptions {
  enabled: boolean;
  /** Lifetime of a response whose types set none with @cacheControl, in ms. */
  ttlMs: number;
  store: ResponseStore;
  accessRecorder: AccessRecorder;
  metrics: CacheMetrics;
  clock: Clock;
}

/** What the response cache did with a request: a hit, or a miss with what became of its result. */
export interface ResponseCacheOutcome {
  hit: boolean;
  etag: string;
  /** Seconds the response may be kept for; null when it was not stored. */
  maxAgeSeconds: number | null;
}

/** By operation (its context object; see admission.ts). */
const outcomes = new WeakMap<object, ResponseCacheOutcome | Promise<ResponseCacheOutcome>>();

/** The outcome for this operation; undefined when the response cache had no part in it (mutations, anonymous callers, errors, TTL 0). */
export const responseCacheOutcome = (operation: object) => outcomes.get(operation);

/**
 * Whole query responses, cached per viewer (the key names the admitted user and, for an API key
 * lacking a scope, its scopes: see responseCacheIdentity; never an
 * unchecked token). The lookup runs as soon as the parameters are known, so a hit skips parsing,
 * validation and execution. On a miss, envelop's plugin (@envelop/response-cache) executes with
 * the entity metadata it collects and the TTL @cacheControl gives; its store is a view of
 * Recall's that stores with the request's read position (a response raced by a write is
 * refused) and records the outcome for the reply. Invalidation is not the plugin's: services
 * invalidate durably, through the invalidation log, before they reply; the plugin's own
 * invalidation by mutation results stays on only because it is also what keeps mutation results
 * out of the cache.
 */
export function useRecallResponseCache(options: RecallResponseCacheOptions): Plugin[] {
  const { store, clock } = options;
  // By operation: a batch's operations share their request.
  const keys = new WeakMap<object, string>();

  const viewOf = (context: GraphQLContext): EnvelopCache => ({
    // The lookup ran before parsing (onParams): a request that gets here missed.
    get: () => undefined,
    set(id, data, entities, ttl) {
      const viewer = context.viewer!;
      const result = { data: data.data };
      const etag = etagOf(responseCacheIdentity(viewer), result.data);
      // Past half the life of tag positions, a request's store could outlive the record it is guarded by.
      const recent = performance.now() - context.startedAt < POSITION_TTL_MS / 2;
      const stored = recent
        ? store.set(id, { result, etag, retrieved: [...context.retrieved] }, [...tagsOf(entities, context.dependsOn), viewerTag(viewer.user.id)], ttl, context.read)
        : Promise.resolve(false);
      outcomes.set(
        context,
        stored.then((kept) => {
          if (!kept) options.metrics.storesRefused.inc();
          return { hit: false, etag, maxAgeSeconds: kept ? Math.floor(ttl / 1000) : null };
        }),
      );
    },
    // Services invalidate through the invalidation log, durably and before they reply.
    invalidate: () => undefined,
  });

  return [
    {
      async onParams({ params, request, setResult, context }) {
        const admitted = admissionOf(context);
        // A refused call of a limited field is answered null, not with what a cached response holds.
        if (!options.enabled || !admitted?.viewer || admitted.allowances?.refusedSome || isWebSocketOperation(request)) return;
        const { viewer } = admitted;
        const key = responseCacheKey({
          documentString: params.query ?? '',
          variableValues: params.variables,
          operationName: params.operationName,
          sessionId: responseCacheIdentity(viewer),
        });
        keys.set(context, key);
        // The cached-hit front has just looked this very request up, at the same position.
        if (missedByFront((context as { req?: object }).req) === key) return;
        const hit = await store.get(key, admitted.read);
        if (!hit) return;
        options.accessRecorder.record(viewer.user.id, hit.retrieved);
        outcomes.set(context, { hit: true, etag: hit.etag, maxAgeSeconds: hit.maxAgeSeconds });
        setResult(hit.result);
      },
    },
    useResponseCache({
      session: (context) => {
        const { viewer } = context as GraphQLContext;
        return viewer ? responseCacheIdentity(viewer) : null;
      },
      enabled: (context) => keys.has(context),
      buildResponseCacheKey: ({ context }) => keys.get(context as GraphQLContext)!,
      cache: (context) => viewOf(context as GraphQLContext),
      ttl: options.ttlMs,
      // Introspection is never kept (envelop leaves out only __schema): what it may show depends on
      // the viewer's role (INTROSPECTION=admins), which may change while a response is kept.
      ttlPerSchemaCoordinate: { 'Query.__type': 0 },
      includeExtensionMetadata: false,
      shouldCacheResult: ({ result }) => !result.errors?.length,
      onTtl: ({ ttl, context }) => {
        const until = (context as GraphQLContext).cacheableUntil.at;
        return Math.max(0, Math.min(ttl, until - clock.now().getTime()));
      },
    }) as Plugin,
  ];
}
