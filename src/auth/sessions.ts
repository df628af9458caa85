import type { Queryable } from '../db/database.js';
import { insertSession, revokeSession } from '../db/repositories/sessions.js';
import type { RecordedChange } from '../domain/change.js';
import type { SessionRow } from '../db/rows.js';
import type { AppDeps } from '../app-deps.js';
import { hashToken, newSessionToken } from './tokens.js';

/**
 * last_seen_at is written at most this often per session. The expiry written with it reaches
 * one interval further, so a session never expires early: it lasts from 30 to 31 minutes
 * (with the default TTL) after its last use.
 */
export const TOUCH_INTERVAL_MS = 60_000;

export const sessionExpiryFrom = (from: Date, ttlSeconds: number): Date => new Date(from.getTime() + ttlSeconds * 1000 + TOUCH_INTERVAL_MS);

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
    expiresAt: sessionExpiryFrom(now, deps.config.SESSION_TTL_SECONDS),
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    ip: meta.ip,
  });
  return { token, session };
}

/** Revokes the session; its cached copies go through the after-write step, like any change. */
export function endSession(deps: AppDeps, session: SessionRow): Promise<{ recorded: RecordedChange } | null> {
  return revokeSession(deps.db, session.id, deps.clock.now());
}
