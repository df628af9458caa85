import type { IncomingMessage } from 'node:http';
import type { YogaInitialContext } from 'graphql-yoga';
import type { AppDeps, RequestContext } from './graphql-context.js';
import { createLoaders } from './loaders/create-loaders.js';
import { viewerOf } from './plugins/use-authentication.js';

/** What node:http adds to yoga's context; absent when tests call `yoga.fetch`. */
export interface ServerContext {
  req?: IncomingMessage;
}

/**
 * Builds each request's context: the viewer `useAuthentication` resolved, and a fresh set of
 * loaders, so nothing is memoised across requests.
 */
export function createContextFactory(deps: AppDeps) {
  return (initial: YogaInitialContext & ServerContext): RequestContext => {
    const viewer = viewerOf(initial.request);
    return {
      deps,
      viewer,
      loaders: createLoaders(deps, viewer),
      clientIp: clientIp(deps, initial),
      cacheableUntil: { at: Infinity },
      delivery: { eventId: null },
    };
  };
}

function clientIp(deps: AppDeps, initial: YogaInitialContext & ServerContext): string | null {
  if (deps.config.TRUST_PROXY) {
    // The last address is the one the trusted proxy saw; earlier ones are the client's to invent.
    const forwarded = initial.request.headers.get('x-forwarded-for')?.split(',').at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  return initial.req?.socket.remoteAddress ?? null;
}
