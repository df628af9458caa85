import type { IncomingMessage } from 'node:http';
import type { YogaInitialContext } from 'graphql-yoga';
import type { AppDeps, RequestContext } from './graphql-context.js';
import { clientIp } from './client-ip.js';
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
      clientIp: clientIp(deps.config.TRUST_PROXY, initial.request.headers.get('x-forwarded-for'), initial.req?.socket.remoteAddress),
      cacheableUntil: { at: Infinity },
      delivery: { eventId: null },
    };
  };
}
