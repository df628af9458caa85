import type { YogaInitialContext } from 'graphql-yoga';
import { admissionOfContext } from './admission/admission.js';
import { createFieldAllowances } from './admission/field-allowances.js';
import type { AppDeps } from './app-deps.js';
import type { RequestContext, ServerContext } from './graphql-context.js';
import { createLoaders } from './loaders/create-loaders.js';

/**
 * Builds each request's context from its admission (made by `useAdmission`, the cached-hit
 * front or the WebSocket transport), with a fresh set of loaders, so nothing is memoised across
 * requests.
 */
export function createContextFactory(deps: AppDeps) {
  return (initial: YogaInitialContext & ServerContext): RequestContext => {
    const admitted = admissionOfContext(initial);
    const viewer = admitted?.viewer ?? null;
    const context: RequestContext = {
      deps,
      viewer,
      read: admitted?.read ?? deps.cache.log.position(),
      // Batches read at the request's position as it stands then: its own writes raise it.
      loaders: createLoaders(deps, viewer, () => context.read),
      retrieved: new Set(),
      dependsOn: new Set(),
      signal: initial.request.signal,
      clientIp: admitted?.clientIp ?? null,
      // Without an admission (it cannot happen on a served path) no limited call is allowed.
      allowances: admitted ? admitted.allowances : createFieldAllowances([], []),
      authorization: initial.request.headers.get('authorization'),
      startedAt: performance.now(),
      cacheableUntil: { at: Infinity },
      delivery: { eventId: null },
    };
    return context;
  };
}
