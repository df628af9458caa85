import { z } from 'zod';
import { CHANGE_REASONS, type Change, type ChangeReason, type RecordedChange } from '../../domain/change.js';
import type { Queryable } from '../database.js';

/**
 * The outbox of cache invalidations. Write statements record their change through
 * `recordChange` (a data-modifying CTE, so the write and its record commit together, without a
 * transaction's round trips); the cache deletes a row once Redis has acknowledged it.
 */

const entity = z.object({ id: z.string(), version: z.number(), gone: z.boolean() });
const endedSession = z.object({ id: z.string(), tokenHash: z.string() });
const changeShape = z
  .object({
    reason: z.enum(CHANGE_REASONS),
    ownerId: z.string(),
    contextId: z.string().nullable(),
    memories: z.array(entity),
    context: entity.nullable(),
    sessions: z.array(endedSession).optional(),
    user: entity.nullable().optional(),
    /** Rows recorded before sessions became a list (a release earlier) carry one session. */
    session: endedSession.nullable().optional(),
    // Absent from changes recorded before API keys existed.
    apiKeys: z.array(z.object({ id: z.string(), secretHash: z.string() })).default([]),
    // Absent from changes recorded before admin purges existed.
    contexts: z.array(entity).default([]),
    resetL1: z.array(z.enum(['entities', 'responses'])).default([]),
    // Absent from changes recorded before contexts had a list sequence (nothing was cached by it then).
    list: entity.nullable().default(null),
  })
  .transform(({ session, sessions, user, ...change }): Change => ({
    ...change,
    sessions: sessions ?? (session ? [session] : []),
    user: user ?? null,
  }));

/** A change as stored, checked: a row this release cannot read is reported, not replayed blindly. */
export function parseChange(value: unknown): Change | null {
  const parsed = changeShape.safeParse(value);
  return parsed.success ? parsed.data : null;
}

/** SQL for one changed entity, e.g. `entityJson('w.id', 'w.version', false)`. */
export const entityJson = (id: string, version: string, gone: boolean): string =>
  `jsonb_build_object('id', ${id}, 'version', ${version}, 'gone', ${gone})`;

/** SQL building a `Change` from expressions over the written rows. */
export function changeJson(parts: {
  reason: ChangeReason;
  ownerId: string;
  contextId: string;
  memories?: string;
  context?: string;
  /** The context whose list sequence the write raised, at its new cache version. */
  list?: string;
  /** A jsonb array of `{id, tokenHash}`. */
  sessions?: string;
  user?: string;
  /** A jsonb array of `{id, secretHash}`. */
  apiKeys?: string;
  /** A jsonb array of further contexts. */
  contexts?: string;
  /** A jsonb array of in-process tiers to empty. */
  resetL1?: string;
}): string {
  return `jsonb_build_object('reason', '${parts.reason}', 'ownerId', ${parts.ownerId}, 'contextId', ${parts.contextId},
    'memories', ${parts.memories ?? `'[]'::jsonb`}, 'context', ${parts.context ?? 'NULL'}, 'list', ${parts.list ?? 'NULL'},
    'sessions', ${parts.sessions ?? `'[]'::jsonb`}, 'user', ${parts.user ?? 'NULL'}, 'apiKeys', ${parts.apiKeys ?? `'[]'::jsonb`},
    'contexts', ${parts.contexts ?? `'[]'::jsonb`}, 'resetL1', ${parts.resetL1 ?? `'[]'::jsonb`})`;
}

/**
 * The CTE `outbox`, to add to a write statement: records `change` (over the rows of `source`,
 * aliased `w`) at the time `at`. With `aggregate`, `change` aggregates the rows into one change,
 * recorded only when there is at least one. Select `(SELECT id FROM outbox) AS "outboxId"`.
 */
export function recordChange(change: string, source: string, at: string, aggregate = false): string {
  return `outbox AS (
    INSERT INTO cache_outbox (change, created_at)
    SELECT ${change}, ${at}::timestamptz FROM ${source} w ${aggregate ? 'HAVING count(*) > 0' : ''}
    RETURNING id, change
  )`;
}

/** Select these from a statement with `recordChange`: the outbox row and the change as recorded. */
export const RECORDED = `(SELECT id FROM outbox) AS "outboxId", (SELECT change FROM outbox) AS change`;

export interface RecordedColumns {
  outboxId: string | number;
  change: unknown;
}

/** The recorded change of a written row (the statement's own record, so live and replayed invalidations agree). */
export function recordedChangeOf(row: RecordedColumns): RecordedChange {
  const change = parseChange(row.change);
  if (!change) throw new Error(`the change just recorded (outbox ${String(row.outboxId)}) does not parse`);
  return { outboxId: Number(row.outboxId), change };
}

/** A written row without the outbox columns, with its recorded change. */
export function withRecordedChange<Row extends RecordedColumns>(row: Row): Omit<Row, keyof RecordedColumns> & { recorded: RecordedChange } {
  const { outboxId: _id, change: _change, ...rest } = row;
  return { ...rest, recorded: recordedChangeOf(row) };
}

export interface PendingChange {
  id: number;
  change: Change | null;
  createdAt: Date;
}

/** Changes Redis has not acknowledged, oldest first, after `afterId`. */
export async function findPendingChanges(db: Queryable, options: { limit: number; afterId?: number }): Promise<PendingChange[]> {
  const rows = await db.query<{ id: string; change: unknown; createdAt: Date }>(
    `SELECT id, change, created_at AS "createdAt" FROM cache_outbox WHERE id > $2 ORDER BY id LIMIT $1`,
    [options.limit, options.afterId ?? 0],
  );
  return rows.map((row) => ({ id: Number(row.id), change: parseChange(row.change), createdAt: row.createdAt }));
}

/** Which of these changes are still pending (the others were acknowledged, by any instance). */
export async function pendingAmong(db: Queryable, ids: readonly number[]): Promise<Set<number>> {
  const rows = await db.query<{ id: string }>('SELECT id FROM cache_outbox WHERE id = ANY($1::bigint[])', [ids]);
  return new Set(rows.map((row) => Number(row.id)));
}

/**
 * Deletes acknowledged changes. With `log`, only while the database still records that
 * generation, and raising its acknowledged position in the same statement: a Redis found
 * behind that position later has lost what these rows were.
 */
export async function deleteAcknowledgedChanges(
  db: Queryable,
  ids: readonly number[],
  log: { generation: string; position: number } | null,
): Promise<void> {
  if (ids.length === 0) return;
  if (!log) {
    await db.query('DELETE FROM cache_outbox WHERE id = ANY($1::bigint[])', [ids]);
    return;
  }
  await db.query(
    `WITH log AS (
       UPDATE cache_log SET acked_position = GREATEST(acked_position, $2) WHERE generation = $3 RETURNING 1
     )
     DELETE FROM cache_outbox WHERE id = ANY($1::bigint[]) AND EXISTS (SELECT 1 FROM log)`,
    [ids, log.position, log.generation],
  );
}

/** Drops every change (the in-process cache they concern died with its process). */
export async function discardChanges(db: Queryable): Promise<void> {
  await db.query('DELETE FROM cache_outbox');
}

/** Drops changes recorded before `at`: every cache entry they could make stale has expired by then. */
export async function deleteChangesBefore(db: Queryable, at: Date): Promise<number> {
  const rows = await db.query('DELETE FROM cache_outbox WHERE created_at < $1 RETURNING id', [at]);
  return rows.length;
}

export interface CacheLogRow {
  generation: string;
  ackedPosition: number;
}

/** The log row, locked until the transaction ends: syncs of several instances take turns. */
export async function lockCacheLog(tx: Queryable): Promise<CacheLogRow> {
  const [row] = await tx.query<{ generation: string; ackedPosition: string }>(
    'SELECT generation, acked_position AS "ackedPosition" FROM cache_log FOR UPDATE',
  );
  return { generation: row!.generation, ackedPosition: Number(row!.ackedPosition) };
}

export async function setCacheLog(tx: Queryable, log: CacheLogRow): Promise<void> {
  await tx.query('UPDATE cache_log SET generation = $1, acked_position = $2', [log.generation, log.ackedPosition]);
}
