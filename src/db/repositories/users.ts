import type { Queryable } from '../database.js';
import type { UserRow } from '../rows.js';

const COLUMNS = `id, email, name, password_hash AS "passwordHash", role, tier, version,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/** The user `u` as one JSON column, for reads that join a credential to its user. */
export const USER_JSON = `json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'passwordHash', u.password_hash,
  'role', u.role, 'tier', u.tier, 'version', u.version, 'createdAt', u.created_at, 'updatedAt', u.updated_at)`;

/** A user read through USER_JSON, with its dates as dates. */
export const userFromJson = (user: UserRow): UserRow => ({ ...user, createdAt: new Date(user.createdAt), updatedAt: new Date(user.updatedAt) });

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
