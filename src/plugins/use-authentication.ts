import type { Plugin } from 'graphql-yoga';
import { authenticate } from '../auth/sessions.js';
import type { AppDeps, Viewer } from '../graphql-context.js';

const viewers = new WeakMap<Request, Viewer | null>();

/** Records the viewer of a request authenticated elsewhere (an operation over WebSocket). */
export function rememberViewer(request: Request, viewer: Viewer | null): void {
  viewers.set(request, viewer);
}

/** The viewer `useAuthentication` resolved for this request (null: anonymous). */
export function viewerOf(request: Request): Viewer | null {
  return viewers.get(request) ?? null;
}

/**
 * Resolves the bearer token before anything else looks at the request, the response cache
 * included: a malformed, tampered, expired or revoked token is answered with 401 at once, so
 * it can never be served a cached response, nor a 304.
 */
export function useAuthentication(deps: AppDeps): Plugin {
  return {
    async onRequest({ request, endResponse, fetchAPI }) {
      try {
        viewers.set(request, await authenticate(deps, request.headers.get('authorization')));
      } catch (error) {
        const { message, extensions } = error as { message: string; extensions?: Record<string, unknown> };
        if (extensions?.['code'] === 'UNAUTHENTICATED') {
          endResponse(
            fetchAPI.Response.json(
              { errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] },
              { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } },
            ),
          );
          return;
        }
        // The session could not be looked up (the database is down): masked, like any unexpected error.
        deps.logger.error({ err: error }, 'unexpected error');
        endResponse(
          fetchAPI.Response.json(
            { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] },
            { status: 500 },
          ),
        );
      }
    },
  };
}
