import type { RecordedChange } from '../../domain/change.js';
import type { Database, Queryable } from '../database.js';
import type { ContextRow } from '../rows.js';
import { changeJson, entityJson, recordChange, RECORDED, withRecordedChange, type RecordedColumns } from './cache-outbox.js';

// list_version is a bigint, which the driver would hand over as a string; float8 is exact to 2^53.
export const CONTEXT_COLUMNS = `id, owner_id AS "ownerId", key, name, description, version,
  list_version::float8 AS "listVersion", created_at AS "createdAt", updated_at AS "updatedAt"`;

export function findContextsByIds(db: Queryable, ids: readonly string[]): Promise<ContextRow[]> {
  return db.query<ContextRow>(`SELECT ${CONTEXT_COLUMNS} FROM contexts WHERE id = ANY($1::text[])`, [ids]);
}

/** One page of an owner's contexts, newest first, after the given id; `limit` rows at most. */
export function pageContextsOfOwner(
  db: Queryable,
  ownerId: string,
  page: { afterId: string | null; limit: number },
): Promise<ContextRow[]> {
  return db.query<ContextRow>(
    `SELECT ${CONTEXT_COLUMNS} FROM contexts
     WHERE owner_id = $1 AND ($2::text IS NULL OR id < $2)
     ORDER BY id DESC LIMIT $3`,
    [ownerId, page.afterId, page.limit],
  );
}

/** Inserts the context and records the change, or returns null when the owner already has one with this key. */
export async function insertContext(
  db: Queryable,
  context: Pick<ContextRow, 'id' | 'ownerId' | 'key' | 'name' | 'description' | 'createdAt'>,
): Promise<{ context: ContextRow; recorded: RecordedChange } | null> {
  const rows = await db.query<ContextRow & RecordedColumns>(
    `WITH written AS (
       INSERT INTO contexts (id, owner_id, key, name, description, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (owner_id, key) DO NOTHING
       RETURNING ${CONTEXT_COLUMNS}
     ), ${recordContextWritten('CONTEXT_CREATED', '$6')}
     SELECT *, ${RECORDED} FROM written`,
    [context.id, context.ownerId, context.key, context.name, context.description, context.createdAt],
  );
  return rows[0] ? asWritten(rows[0]) : null;
}

export interface ContextChanges {
  name?: string;
  /** null clears the description; undefined leaves it. */
  description?: string | null;
}

/**
 * Applies the changes if the context is still at `expectedVersion` (when given) and records the
 * change; returns the new row, or null when the id is unknown or the version has moved on.
 */
export async function updateContext(
  db: Queryable,
  id: string,
  changes: ContextChanges,
  expectedVersion: number | null,
  at: Date,
): Promise<{ context: ContextRow; recorded: RecordedChange } | null> {
  const rows = await db.query<ContextRow & RecordedColumns>(
    `WITH written AS (
       UPDATE contexts SET
         name = COALESCE($2, name),
         description = CASE WHEN $3::boolean THEN $4 ELSE description END,
         version = version + 1,
         updated_at = $5
       WHERE id = $1 AND ($6::int IS NULL OR version = $6)
       RETURNING ${CONTEXT_COLUMNS}
     ), ${recordContextWritten('CONTEXT_UPDATED', '$5')}
     SELECT *, ${RECORDED} FROM written`,
    [id, changes.name ?? null, changes.description !== undefined, changes.description ?? null, at, expectedVersion],
  );
  return rows[0] ? asWritten(rows[0]) : null;
}

/**
 * Deletes the context (its memories and their history go with it) and records the change;
 * returns its id, owner and version with those of the memories it held, or null when the id is
 * unknown. The context's row is locked first: a memory being added to it (an insert takes a
 * key-share lock on the row) either committed before, and is among those recorded, or waits and
 * then finds the context gone.
 */
export function deleteContext(
  db: Database,
  id: string,
  at: Date,
): Promise<{ id: string; ownerId: string; version: number; memories: Array<{ id: string; version: number }>; recorded: RecordedChange } | null> {
  return db.transaction(async (tx) => {
    const locked = await tx.query('SELECT 1 FROM contexts WHERE id = $1 FOR UPDATE', [id]);
    return locked.length === 0 ? null : deleteLockedContext(tx, id, at);
  });
}

/** Locks every context of the owner for the rest of the transaction; their ids. */
export async function lockContextsOfOwner(tx: Queryable, ownerId: string): Promise<string[]> {
  const rows = await tx.query<{ id: string }>('SELECT id FROM contexts WHERE owner_id = $1 ORDER BY id FOR UPDATE', [ownerId]);
  return rows.map((row) => row.id);
}

/** Deletes a context whose row the transaction has locked, with its memories, recording the change. */
export async function deleteLockedContext(tx: Queryable, id: string, at: Date) {
  const rows = await tx.query<{ id: string; ownerId: string; version: number; memories: Array<{ id: string; version: number }> } & RecordedColumns>(
    `WITH doomed AS (SELECT id, version FROM memories WHERE context_id = $1),
     deleted AS (DELETE FROM contexts WHERE id = $1 RETURNING id, owner_id AS "ownerId", version, list_version),
     ${recordChange(
       changeJson({
         reason: 'CONTEXT_DELETED',
         ownerId: 'w."ownerId"',
         contextId: 'w.id',
         context: entityJson('w.id', 'w.version + w.list_version + 1', true),
         memories: `coalesce((SELECT jsonb_agg(${entityJson('d.id', 'd.version + 1', true)}) FROM doomed d), '[]'::jsonb)`,
       }),
       'deleted',
       '$2',
     )}
     SELECT deleted.id, deleted."ownerId", deleted.version,
       coalesce((SELECT json_agg(json_build_object('id', id, 'version', version)) FROM doomed), '[]'::json) AS memories,
       ${RECORDED}
     FROM deleted`,
    [id, at],
  );
  return rows[0] ? withRecordedChange(rows[0]) : null;
}

/** The outbox CTE of a statement that inserted or updated one context (CTE `written`) at `at`. */
function recordContextWritten(reason: 'CONTEXT_CREATED' | 'CONTEXT_UPDATED', at: string): string {
  return recordChange(changeJson({ reason, ownerId: 'w."ownerId"', contextId: 'w.id', context: entityJson('w.id', 'w.version + w."listVersion"', false) }), 'written', at);
}

function asWritten(row: ContextRow & RecordedColumns): { context: ContextRow; recorded: RecordedChange } {
  const { recorded, ...context } = withRecordedChange(row);
  return { context, recorded };
}
