import { bearerToken } from '../auth/tokens.js';
import type { ReadPosition } from '../cache/store.js';
import type { Viewer } from '../request-scope.js';
import { invalidCredential, RefusedError, unauthenticated } from './refusal.js';

/**
 * One way of proving who calls. `authenticate` answers null for a bearer token that is not of
 * its kind, the viewer for a good one, and throws `invalidCredential()` for one of its kind that
 * is not good (tampered, expired, revoked, or its user gone). The cache reads it makes are at
 * `read`, the position of the request.
 */
export interface AuthStrategy {
  readonly name: string;
  authenticate(token: string, read: ReadPosition): Promise<Viewer | null>;
}

export type Authenticate = (authorization: string | null, read: ReadPosition) => Promise<Viewer | null>;

/**
 * Tries the strategies in order. No Authorization header is an anonymous caller (null); a
 * header that is not `Bearer <token>`, or a token no strategy accepts, is refused.
 */
export function createAuthenticator(strategies: readonly AuthStrategy[]): Authenticate {
  return async (authorization, read) => {
    const token = bearerToken(authorization);
    if (token === undefined) return null;
    if (token === null) throw new RefusedError(unauthenticated('The Authorization header must be "Bearer <token>".'));
    for (const strategy of strategies) {
      const viewer = await strategy.authenticate(token, read);
      if (viewer) return viewer;
    }
    throw invalidCredential();
  };
}
