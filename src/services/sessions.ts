import { z } from 'zod';
import { endSession } from '../auth/sessions.js';
import * as repo from '../db/repositories/sessions.js';
import type { SessionRow, UserRow } from '../db/rows.js';
import { notFound } from '../errors.js';
import { afterId, idCursor, pageSize, toConnection } from '../pagination.js';
import type { RequestScope } from '../request-scope.js';
import { parseInput } from '../validation.js';
import { requireViewer, visibleSession } from './access.js';
import { afterWrite } from './after-write.js';

/** Ends the session of the request's token, everywhere, before replying; an API key has no session to end. */
export async function logout(scope: RequestScope) {
  const { session } = requireViewer(scope);
  if (!session) {
    return {
      sessionId: null,
      errors: [{ code: 'FORBIDDEN' as const, message: 'logout ends a session, and this request came with an API key: revoke the key with revokeApiKey.' }],
    };
  }
  const ended = await endSession(scope.deps, session);
  if (ended) await afterWrite(scope, ended.recorded);
  return { sessionId: session.id, errors: [] };
}

/** `User.sessions`: the user's live sessions, newest first. Read from PostgreSQL: they are never cached in a response. */
export async function listSessions(scope: RequestScope, user: UserRow, args: { first?: number | null; after?: string | null }) {
  const limit = pageSize(args.first, scope.deps.config);
  const rows = await repo.pageLiveSessionsOfUser(scope.deps.db, user.id, scope.deps.clock.now(), {
    afterId: afterId(args.after, 'ses'),
    limit: limit + 1,
  });
  return toConnection(rows, limit, idCursor);
}

/** Whether the session is the one the request authenticated with. */
export const isCurrentSession = (scope: RequestScope, session: SessionRow): boolean => scope.viewer?.session?.id === session.id;

const revokeInput = z.object({ id: z.string().max(64) });

/** Revokes one of the viewer's sessions (an admin: anyone's); a foreign id is answered like an unknown one. */
export async function revokeSession(scope: RequestScope, input: z.input<typeof revokeInput>) {
  requireViewer(scope);
  const parsed = parseInput(revokeInput, input);
  if (!parsed.ok) return { sessionId: null, errors: parsed.errors };
  const session = await visibleSession(scope, parsed.value.id);
  if (!session) return { sessionId: null, errors: [notFound('Session', ['id'])] };
  const ended = await endSession(scope.deps, session);
  if (ended) await afterWrite(scope, ended.recorded);
  return { sessionId: session.id, errors: [] };
}

/** Revokes every session of the viewer, or every one but the request's own with `keepCurrent`. */
export async function logoutEverywhere(scope: RequestScope, input: { keepCurrent?: boolean | null } | null | undefined) {
  const viewer = requireViewer(scope);
  const keep = input?.keepCurrent ? (viewer.session?.id ?? null) : null;
  const ended = await repo.endCredentialsOfUser(scope.deps.db, viewer.user.id, { keepSessionId: keep, apiKeys: false }, scope.deps.clock.now());
  if (ended) await afterWrite(scope, ended.recorded);
  return { revokedCount: ended?.revoked ?? 0, errors: [] };
}
