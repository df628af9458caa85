import { clientError } from '../errors.js';
import type { AppDeps, Viewer } from '../graphql-context.js';
import { gone } from '../cache/invalidation.js';
import { insertSession, revokeSession, touchSession } from '../db/repositories/sessions.js';
import type { Queryable } from '../db/database.js';
import type { SessionRow } from '../db/rows.js';
import { bearerToken, hashToken, isSessionTokenShaped, newSessionToken } from './tokens.js';

/**
 * last_seen_at is written at most this often per session. The expiry written with it reaches
 * one interval further, so a session never expires early: it lasts from 30 to 31 minutes
 * (with the default TTL) after its last use.
 */
const TOUCH_INTERVAL_MS = 60_000;

const expiryFrom = (deps: AppDeps, from: Date) =>
  new Date(from.getTime() + deps.config.SESSION_TTL_SECONDS * 1000 + TOUCH_INTERVAL_MS);

const invalidToken = () => clientError('UNAUTHENTICATED', 'The bearer token is invalid, expired or revoked.');

/**
 * Resolves the viewer of a request. No Authorization header means an anonymous request;
 * a header that does not carry a live session token refuses the whole request.
 */
export async function authenticate(deps: AppDeps, authorization: string | null): Promise<Viewer | null> {
  const token = bearerToken(authorization);
  if (token === undefined) return null;
  if (token === null) throw clientError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <token>".');
  if (!isSessionTokenShaped(token)) throw invalidToken();

  const tokenHash = hashToken(token);
  const [found] = await deps.sources.sessions.load([tokenHash]);
  const now = deps.clock.now();
  if (!found || found.session.revokedAt !== null || found.session.expiresAt <= now) throw invalidToken();

  const { session, user } = found;
  if (now.getTime() - session.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) {
    const expiresAt = expiryFrom(deps, now);
    await touchSession(deps.db, session.id, now, expiresAt);
    const touched = { user, session: { ...session, lastSeenAt: now, expiresAt } };
    await deps.sources.sessions.remember(tokenHash, touched);
    return touched;
  }
  return { user, session };
}

export interface SessionMeta {
  userAgent: string | null;
  ip: string | null;
}

/** Opens a session for the user; the token is returned once and only its hash is kept. */
export async function startSession(
  deps: AppDeps,
  db: Queryable,
  userId: string,
  meta: SessionMeta,
): Promise<{ token: string; session: SessionRow }> {
  const token = newSessionToken();
  const now = deps.clock.now();
  const session = await insertSession(db, {
    id: deps.newId('ses'),
    userId,
    tokenHash: hashToken(token),
    createdAt: now,
    lastSeenAt: now,
    expiresAt: expiryFrom(deps, now),
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    ip: meta.ip,
  });
  return { token, session };
}

/** Revokes the session and, before returning, every cached copy of it on every instance. */
export async function endSession(deps: AppDeps, session: SessionRow): Promise<void> {
  const now = deps.clock.now();
  await revokeSession(deps.db, session.id, now);
  // No later copy may win over the revocation: it carries the highest version there is.
  await deps.cache.invalidate('session', [
    gone(deps.cache.keys.session(session.tokenHash), Number.MAX_SAFE_INTEGER, now, deps.config.CACHE_TTL_SESSION_SECONDS * 1000),
  ]);
}
