import type { RecordedChange } from '../../domain/change.js';
import type { Database, Queryable } from '../database.js';
import type { ApiKeyRow, UserRow } from '../rows.js';
import { changeJson, recordChange, RECORDED, withRecordedChange, type RecordedColumns } from './cache-outbox.js';
import { USER_JSON, userFromJson } from './users.js';

const COLUMNS = `k.id, k.user_id AS "userId", k.name, k.prefix, k.secret_hash AS "secretHash", k.scopes,
  k.created_at AS "createdAt", k.last_used_at AS "lastUsedAt", k.expires_at AS "expiresAt", k.revoked_at AS "revokedAt"`;

/**
 * Inserts the key unless its user already holds `maxLive` keys that are neither revoked nor
 * expired at `createdAt` (null then). The user's row is locked first, so concurrent creations
 * take turns and the cap is exact.
 */
export function insertApiKey(db: Database, key: Omit<ApiKeyRow, 'lastUsedAt' | 'revokedAt'>, maxLive: number): Promise<ApiKeyRow | null> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [key.userId]);
    const [live] = await tx.query<{ count: string | number }>(
      'SELECT count(*) AS count FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)',
      [key.userId, key.createdAt],
    );
    if (Number(live!.count) >= maxLive) return null;
    const rows = await tx.query<ApiKeyRow>(
      `INSERT INTO api_keys AS k (id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8)
       RETURNING ${COLUMNS}`,
      [key.id, key.userId, key.name, key.prefix, key.secretHash, key.scopes, key.createdAt, key.expiresAt],
    );
    return rows[0]!;
  });
}

/** The keys of these token hashes with their users, in one round trip; revoked or expired ones too. */
export async function findApiKeysBySecretHashes(db: Queryable, hashes: readonly string[]): Promise<Array<{ apiKey: ApiKeyRow; user: UserRow }>> {
  const rows = await db.query<ApiKeyRow & { user: UserRow }>(
    `SELECT ${COLUMNS}, ${USER_JSON} AS "user"
     FROM api_keys k JOIN users u ON u.id = k.user_id
     WHERE k.secret_hash = ANY($1::text[])`,
    [hashes],
  );
  return rows.map(({ user, ...apiKey }) => ({ apiKey, user: userFromJson(user) }));
}

/** The user's keys that are not revoked (expired ones included, so their owner sees them lapse), newest first. */
export function findApiKeysOfUser(db: Queryable, userId: string): Promise<ApiKeyRow[]> {
  return db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL ORDER BY k.id DESC`, [userId]);
}

/** The live keys with these ids, in one statement. */
export function findApiKeysByIds(db: Queryable, ids: readonly string[]): Promise<ApiKeyRow[]> {
  return db.query<ApiKeyRow>(`SELECT ${COLUMNS} FROM api_keys k WHERE k.id = ANY($1::text[]) AND k.revoked_at IS NULL`, [ids]);
}

export async function touchApiKey(db: Queryable, id: string, usedAt: Date): Promise<void> {
  await db.query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL', [id, usedAt]);
}

/**
 * Revokes the key (if it still is live) and records the change either way, so that a second,
 * concurrent revocation also waits for the first to reach every cache. `ownerId` confines it to
 * that user's keys (null: anyone's, for admins). Null for an unknown id, or another's.
 */
export async function revokeApiKey(
  db: Queryable,
  id: string,
  ownerId: string | null,
  at: Date,
): Promise<(ApiKeyRow & { recorded: RecordedChange }) | null> {
  const rows = await db.query<ApiKeyRow & RecordedColumns>(
    `WITH written AS (
       UPDATE api_keys k SET revoked_at = COALESCE(k.revoked_at, $3)
       WHERE k.id = $1 AND ($2::text IS NULL OR k.user_id = $2)
       RETURNING ${COLUMNS}
     ), ${recordChange(
       changeJson({
         reason: 'API_KEY_REVOKED',
         ownerId: 'w."userId"',
         contextId: 'NULL',
         apiKeys: `jsonb_build_array(jsonb_build_object('id', w.id, 'secretHash', w."secretHash"))`,
       }),
       'written',
       '$3',
     )}
     SELECT written.*, ${RECORDED} FROM written`,
    [id, ownerId, at],
  );
  return rows[0] ? withRecordedChange(rows[0]) : null;
}
