import type { RecordedChange } from '../../domain/change.js';
import type { Queryable } from '../database.js';
import type { SessionRow, UserRow } from '../rows.js';
import { USER_JSON, userFromJson } from './users.js';
import { changeJson, recordChange, RECORDED, withRecordedChange, type RecordedColumns } from './cache-outbox.js';

const COLUMNS = `s.id, s.user_id AS "userId", s.token_hash AS "tokenHash", s.created_at AS "createdAt",
  s.last_seen_at AS "lastSeenAt", s.expires_at AS "expiresAt", s.revoked_at AS "revokedAt",
  s.user_agent AS "userAgent", s.ip`;

export async function insertSession(db: Queryable, session: Omit<SessionRow, 'revokedAt'>): Promise<SessionRow> {
  const rows = await db.query<SessionRow>(
    `INSERT INTO sessions AS s (id, user_id, token_hash, created_at, last_seen_at, expires_at, user_agent, ip)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     RETURNING ${COLUMNS}`,
    [
      session.id,
      session.userId,
      session.tokenHash,
      session.createdAt,
      session.lastSeenAt,
      session.expiresAt,
      session.userAgent,
      session.ip,
    ],
  );
  return rows[0]!;
}

/** The sessions of these token hashes with their users, in one round trip; revoked or expired ones too. */
export async function findSessionsByTokenHashes(
  db: Queryable,
  tokenHashes: readonly string[],
): Promise<Array<{ session: SessionRow; user: UserRow }>> {
  const rows = await db.query<SessionRow & { user: UserRow }>(
    `SELECT ${COLUMNS}, ${USER_JSON} AS "user"
     FROM sessions s JOIN users u ON u.id = s.user_id
     WHERE s.token_hash = ANY($1::text[])`,
    [tokenHashes],
  );
  return rows.map(({ user, ...session }) => ({ session, user: userFromJson(user) }));
}

/** SQL of one ended API key (`Change.apiKeys` item) over the key row aliased `alias`. */
export const endedApiKeyJson = (alias: string): string => `jsonb_build_object('id', ${alias}.id, 'secretHash', ${alias}.secret_hash)`;

/** SQL of one ended session (`Change.sessions` item) over the session row aliased `alias`. */
export const endedSessionJson = (alias: string): string => `jsonb_build_object('id', ${alias}.id, 'tokenHash', ${alias}.token_hash)`;

/** The user's live sessions at `now`, newest first, after the session `afterId`. */
export function pageLiveSessionsOfUser(
  db: Queryable,
  userId: string,
  now: Date,
  page: { afterId: string | null; limit: number },
): Promise<SessionRow[]> {
  return db.query<SessionRow>(
    `SELECT ${COLUMNS} FROM sessions s
     WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND ($3::text IS NULL OR s.id < $3)
     ORDER BY s.id DESC LIMIT $4`,
    [userId, now, page.afterId, page.limit],
  );
}

/**
 * Revokes every session of the user but `keepSessionId`, and with `apiKeys` every key too,
 * recording one SESSION_ENDED change that names them all; null when there was none. Sessions
 * this clock thinks expired are revoked as well (another instance's clock may not); `revoked`
 * counts the live ones.
 */
export async function endCredentialsOfUser(
  db: Queryable,
  userId: string,
  options: { keepSessionId: string | null; apiKeys: boolean },
  at: Date,
): Promise<{ revoked: number; recorded: RecordedChange } | null> {
  const rows = await db.query<RecordedColumns & { revoked: number }>(
    `WITH written AS (
       UPDATE sessions SET revoked_at = $3
       WHERE user_id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR id <> $2)
       RETURNING id, token_hash, expires_at
     ), keys AS (
       UPDATE api_keys SET revoked_at = $3
       WHERE $4::boolean AND user_id = $1 AND revoked_at IS NULL
       RETURNING id, secret_hash
     ), ${recordChange(
       changeJson({
         reason: 'SESSION_ENDED',
         ownerId: '$1::text',
         contextId: 'NULL',
         sessions: `coalesce((SELECT jsonb_agg(${endedSessionJson('s')}) FROM written s), '[]'::jsonb)`,
         apiKeys: `coalesce((SELECT jsonb_agg(${endedApiKeyJson('k')}) FROM keys k), '[]'::jsonb)`,
       }),
       '(SELECT 1 FROM written UNION ALL SELECT 1 FROM keys)',
       '$3',
       true,
     )}
     SELECT (SELECT count(*)::int FROM written WHERE expires_at > $3) AS revoked, ${RECORDED} WHERE EXISTS (SELECT 1 FROM outbox)`,
    [userId, options.keepSessionId, at, options.apiKeys],
  );
  return rows[0] ? withRecordedChange(rows[0]) : null;
}

/** Slides the expiry forward from `seenAt`; false when the session has been revoked or has expired meanwhile. */
export async function touchSession(db: Queryable, id: string, seenAt: Date, expiresAt: Date): Promise<boolean> {
  const rows = await db.query(
    'UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING id',
    [id, seenAt, expiresAt],
  );
  return rows.length > 0;
}

/**
 * Revokes the session (if it still is live) and records the change either way, so that a second,
 * concurrent logout also waits for the session's end to reach every cache; null for an unknown id.
 */
export async function revokeSession(db: Queryable, id: string, at: Date): Promise<{ recorded: RecordedChange } | null> {
  const rows = await db.query<RecordedColumns>(
    `WITH written AS (
       UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING id, user_id, token_hash
     ), ${recordChange(
       changeJson({
         reason: 'SESSION_ENDED',
         ownerId: 'w.user_id',
         contextId: 'NULL',
         sessions: `jsonb_build_array(${endedSessionJson('w')})`,
       }),
       'written',
       '$2',
     )}
     SELECT ${RECORDED} FROM written`,
    [id, at],
  );
  return rows[0] ? withRecordedChange(rows[0]) : null;
}

/** The sessions with these ids, in one statement; revoked or expired ones too. */
export function findSessionsByIds(db: Queryable, ids: readonly string[]): Promise<SessionRow[]> {
  return db.query<SessionRow>(`SELECT ${COLUMNS} FROM sessions s WHERE s.id = ANY($1::text[])`, [ids]);
}
