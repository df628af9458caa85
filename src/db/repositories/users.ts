import type { RecordedChange } from '../../domain/change.js';
import type { Queryable } from '../database.js';
import type { UserRow } from '../rows.js';
import { changeJson, entityJson, recordChange, RECORDED, recordedChangeOf, type RecordedColumns } from './cache-outbox.js';
import { endedApiKeyJson, endedSessionJson } from './sessions.js';

const COLUMNS = `id, email, name, role, tier, version,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/** The user `u` as one JSON column, for reads that join a credential to its user. */
export const USER_JSON = `json_build_object('id', u.id, 'email', u.email, 'name', u.name,
  'role', u.role, 'tier', u.tier, 'version', u.version, 'createdAt', u.created_at, 'updatedAt', u.updated_at)`;

/** A user read through USER_JSON, with its dates as dates. */
export const userFromJson = (user: UserRow): UserRow => ({ ...user, createdAt: new Date(user.createdAt), updatedAt: new Date(user.updatedAt) });

export function findUsersByIds(db: Queryable, ids: readonly string[]): Promise<UserRow[]> {
  return db.query<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = ANY($1::text[])`, [ids]);
}

/** The user with this email (any letter case) and their password hash, for checking a password; null when none. */
export async function findCredentialsByEmail(db: Queryable, email: string): Promise<{ user: UserRow; passwordHash: string } | null> {
  const rows = await db.query<UserRow & { passwordHash: string }>(
    `SELECT ${COLUMNS}, password_hash AS "passwordHash" FROM users WHERE lower(email) = lower($1)`,
    [email],
  );
  if (!rows[0]) return null;
  const { passwordHash, ...user } = rows[0];
  return { user, passwordHash };
}

/** The stored password hash of a user; null for an unknown id. */
export async function findPasswordHash(db: Queryable, id: string): Promise<string | null> {
  const rows = await db.query<{ passwordHash: string }>('SELECT password_hash AS "passwordHash" FROM users WHERE id = $1', [id]);
  return rows[0]?.passwordHash ?? null;
}

/** Inserts the user, or returns null when the email is already taken (any letter case). */
export async function insertUser(
  db: Queryable,
  user: Pick<UserRow, 'id' | 'email' | 'name' | 'createdAt'> & { passwordHash: string },
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
 * Deletes the user (their sessions, keys and history go with them, by cascade); null for an
 * unknown id. The change is recorded by the table's trigger (migration 0004), which records a
 * deletion made by hand in SQL the same way; it is read back here, in the same transaction.
 * Their contexts and memories are deleted first, each with its own change, so that every cached
 * copy of them is named.
 */
export async function deleteLockedUser(tx: Queryable, id: string): Promise<{ recorded: RecordedChange } | null> {
  const deleted = await tx.query('DELETE FROM users WHERE id = $1 RETURNING id', [id]);
  if (deleted.length === 0) return null;
  const rows = await tx.query<RecordedColumns>(
    `SELECT id AS "outboxId", change FROM cache_outbox WHERE id = currval(pg_get_serial_sequence('cache_outbox', 'id'))`,
  );
  return { recorded: recordedChangeOf(rows[0]!) };
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
         apiKeys: `coalesce((SELECT jsonb_agg(${endedApiKeyJson('k')}) FROM api_keys k WHERE k.user_id = w.id AND k.revoked_at IS NULL), '[]'::jsonb)`,
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
