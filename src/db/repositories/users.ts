import type { RecordedChange } from '../../domain/change.js';
import type { Queryable } from '../database.js';
import type { UserRow } from '../rows.js';
import { changeJson, entityJson, recordChange, RECORDED, recordedChangeOf, withRecordedChange, type RecordedColumns } from './cache-outbox.js';
import { endedSessionJson } from './sessions.js';

const COLUMNS = `id, email, name, password_hash AS "passwordHash", role, tier, version,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

export function findUsersByIds(db: Queryable, ids: readonly string[]): Promise<UserRow[]> {
  return db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ANY($1::text[])`, [ids]);
}

export async function findUserByEmail(db: Queryable, email: string): Promise<UserRow | null> {
  const rows = await db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]);
  return rows[0] ?? null;
}

/** Inserts the user, or returns null when the email is already taken (any letter case). */
export async function insertUser(
  db: Queryable,
  user: Pick<UserRow, 'id' | 'email' | 'name' | 'passwordHash' | 'createdAt'>,
): Promise<UserRow | null> {
  const rows = await db.query<UserRow>(
    `INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT ((lower(email))) DO NOTHING
     RETURNING ${COLUMNS}`,
    [user.id, user.email, user.name, user.passwordHash, user.createdAt],
  );
  return rows[0] ?? null;
}

/** Locks the user's row for the rest of the transaction (no session or context can join it meanwhile); false when unknown. */
export async function lockUser(tx: Queryable, id: string): Promise<boolean> {
  return (await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [id])).length > 0;
}

/**
 * Deletes the user (their sessions, keys and history go with them, by cascade) and records the
 * change; null for an unknown id. Their contexts and memories are deleted first, each with its
 * own change, so that every cached copy of them is named.
 */
export async function deleteLockedUser(tx: Queryable, id: string, at: Date): Promise<{ recorded: RecordedChange } | null> {
  const rows = await tx.query<RecordedColumns>(
    `WITH deleted AS (DELETE FROM users WHERE id = $1 RETURNING id, version),
     ${recordChange(
       changeJson({ reason: 'USER_DELETED', ownerId: 'w.id', contextId: 'NULL', user: entityJson('w.id', 'w.version + 1', true) }),
       'deleted',
       '$2',
     )}
     SELECT ${RECORDED} FROM deleted`,
    [id, at],
  );
  return rows[0] ? withRecordedChange(rows[0]) : null;
}

/**
 * Makes the user with this email an admin, recording the change when the role changed (their
 * cached sessions carry the old role); null when no user has this email.
 */
export async function promoteToAdmin(db: Queryable, email: string, at: Date): Promise<{ user: UserRow; recorded: RecordedChange | null } | null> {
  const rows = await db.query<UserRow & { newVersion: number | null; outboxId: string | null; change: unknown }>(
    `WITH found AS (SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)),
     written AS (
       UPDATE users u SET role = 'ADMIN', version = u.version + 1, updated_at = $2
       FROM found f WHERE u.id = f.id AND f.role <> 'ADMIN'
       RETURNING u.id, u.version
     ), ${recordChange(
       changeJson({
         reason: 'USER_UPDATED',
         ownerId: 'w.id',
         contextId: 'NULL',
         user: entityJson('w.id', 'w.version', false),
         sessions: `coalesce((SELECT jsonb_agg(${endedSessionJson('s')}) FROM sessions s WHERE s.user_id = w.id AND s.revoked_at IS NULL), '[]'::jsonb)`,
       }),
       'written',
       '$2',
     )}
     SELECT f.*, (SELECT version FROM written) AS "newVersion", ${RECORDED} FROM found f`,
    [email, at],
  );
  const row = rows[0];
  if (!row) return null;
  const { newVersion, outboxId, change, ...found } = row;
  const user: UserRow = newVersion === null ? found : { ...found, role: 'ADMIN', version: newVersion, updatedAt: at };
  return { user, recorded: outboxId === null ? null : recordedChangeOf({ outboxId, change }) };
}
