import type { RecordedChange } from '../../domain/change.js';
import type { MemoryKind } from '../../domain/enums.js';
import type { Queryable } from '../database.js';
import type { MemoryRow } from '../rows.js';
import { changeJson, entityJson, recordChange, RECORDED, withRecordedChange, type RecordedColumns } from './cache-outbox.js';

export const MEMORY_COLUMNS = `m.id, m.context_id AS "contextId", m.owner_id AS "ownerId", m.content, m.kind, m.tags,
  m.metadata, m.importance, m.version, m.created_at AS "createdAt", m.updated_at AS "updatedAt",
  m.expires_at AS "expiresAt"`;

/** The columns of MEMORY_COLUMNS, selected again from a CTE that holds them. */
const RETURNED = `id, "contextId", "ownerId", content, kind, tags, metadata, importance, version, "createdAt",
  "updatedAt", "expiresAt"`;

/** Memories past their expiry behave as if they did not exist; `now` is a parameter placeholder. */
export const liveMemory = (now: string): string => `(m.expires_at IS NULL OR m.expires_at > ${now})`;

export function findMemoriesByIds(db: Queryable, ids: readonly string[], now: Date): Promise<MemoryRow[]> {
  return db.query<MemoryRow>(
    `SELECT ${MEMORY_COLUMNS} FROM memories m WHERE m.id = ANY($1::text[]) AND ${liveMemory('$2')}`,
    [ids, now],
  );
}

export interface MemoryFilterValues {
  kinds: MemoryKind[] | null;
  tags: string[] | null;
  minImportance: number | null;
}

/**
 * The same page (newest first, after `afterId`, at most `limit`) of several contexts' memories
 * in one statement, so that a list of contexts with their memories stays one query.
 */
export function pageMemoriesOfContexts(
  db: Queryable,
  contextIds: readonly string[],
  page: { afterId: string | null; limit: number; filter: MemoryFilterValues },
  now: Date,
): Promise<MemoryRow[]> {
  return db.query<MemoryRow>(
    `SELECT page.* FROM unnest($1::text[]) AS c(id)
     CROSS JOIN LATERAL (
       SELECT ${MEMORY_COLUMNS} FROM memories m
       WHERE m.context_id = c.id
         AND ($2::text IS NULL OR m.id < $2)
         AND ${liveMemory('$3')}
         AND ($5::text[] IS NULL OR m.kind = ANY($5))
         AND ($6::text[] IS NULL OR m.tags @> $6)
         AND ($7::float8 IS NULL OR m.importance >= $7)
       ORDER BY m.id DESC LIMIT $4
     ) page`,
    [contextIds, page.afterId, now, page.limit, page.filter.kinds, page.filter.tags, page.filter.minImportance],
  );
}

export type NewMemoryRow = Omit<MemoryRow, 'version' | 'updatedAt'>;

/** Who made a write, and the id of the history event that records it. */
export interface WriteEvent {
  id: string;
  actorId: string | null;
}

/**
 * The history event of each row a statement wrote, inserted by the same statement (a
 * data-modifying CTE), so that a write and its history need no transaction round trips.
 */
const recordEvents = (type: 'ADDED' | 'UPDATED' | 'DELETED', source: string, previous: string, current: string) => `
  INSERT INTO memory_events (id, memory_id, context_id, owner_id, actor_id, type, version, old_content, new_content, occurred_at)
  SELECT w.event_id, w.id, w."contextId", w."ownerId", w.actor_id, '${type}', w.version, ${previous}, ${current}, w.at
  FROM ${source} w`;

/**
 * The CTE `locked`: the row of the context a write goes to (`contextId`, SQL), locked before any
 * memory row. Writes to one context take turns, each raising the list sequence from the last
 * one's value, and a deletion of the context (which locks its row first, then the memories')
 * never waits on a memory write that waits on it.
 */
const lockContext = (contextId: string) =>
  `locked AS MATERIALIZED (SELECT id FROM contexts WHERE id = (${contextId}) FOR NO KEY UPDATE)`;

/** The CTE `listed`: raises the list sequence of the context of the rows written (CTE `source`), if any. */
const raiseListVersion = (source: string) => `listed AS (
    UPDATE contexts c SET list_version = c.list_version + 1
    WHERE c.id IN (SELECT "contextId" FROM ${source})
    RETURNING c.id, c.version + c.list_version AS version
  )`;

/** The change's `list`: the context at its new cache version (see `contextCacheVersion`). */
const LISTED = `(SELECT ${entityJson('l.id', 'l.version', false)} FROM listed l)`;

/**
 * Inserts a batch, its ADDED events and its change in one statement; rows come back in input
 * order (all in one context). Null when the context is gone.
 */
export async function insertMemories(
  db: Queryable,
  rows: ReadonlyArray<NewMemoryRow & { event: WriteEvent }>,
): Promise<{ memories: MemoryRow[]; recorded: RecordedChange } | null> {
  const items = rows.map((row, position) => ({
    position,
    event_id: row.event.id,
    actor_id: row.event.actorId,
    id: row.id,
    context_id: row.contextId,
    owner_id: row.ownerId,
    content: row.content,
    kind: row.kind,
    tags: row.tags,
    metadata: row.metadata ?? null,
    importance: row.importance,
    created_at: row.createdAt,
    expires_at: row.expiresAt,
  }));
  const written = await db.query<MemoryRow & RecordedColumns>(
    `WITH items AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(position int, event_id text, actor_id text, id text,
         context_id text, owner_id text, content text, kind text, tags text[], metadata jsonb, importance float8,
         created_at timestamptz, expires_at timestamptz)
     ), ${lockContext('SELECT context_id FROM items LIMIT 1')},
     inserted AS (
       INSERT INTO memories AS m (id, context_id, owner_id, content, kind, tags, metadata, importance,
         created_at, updated_at, expires_at)
       SELECT id, context_id, owner_id, content, kind, tags, metadata, importance, created_at, created_at, expires_at
       FROM items WHERE EXISTS (SELECT 1 FROM locked)
       RETURNING ${MEMORY_COLUMNS}
     ), written AS (
       SELECT inserted.*, items.event_id, items.actor_id, items.created_at AS at, items.position
       FROM inserted JOIN items USING (id)
     ), events AS (${recordEvents('ADDED', 'written', 'NULL', 'w.content')}),
     ${raiseListVersion('written')},
     ${recordChange(
       changeJson({
         reason: 'MEMORIES_ADDED',
         ownerId: 'min(w."ownerId")',
         contextId: 'min(w."contextId")',
         memories: `jsonb_agg(${entityJson('w.id', 'w.version', false)})`,
         list: LISTED,
       }),
       'written',
       'min(w.at)',
       true,
     )}
     SELECT ${RETURNED}, ${RECORDED} FROM written ORDER BY position`,
    [JSON.stringify(items)],
  );
  if (written.length === 0) return null;
  const inserted = written.map(withRecordedChange);
  return { memories: inserted.map(({ recorded: _recorded, ...memory }) => memory), recorded: inserted[0]!.recorded };
}

export interface MemoryChanges {
  content?: string;
  kind?: MemoryKind;
  tags?: string[];
  /** null clears the metadata; undefined leaves it. */
  metadata?: unknown;
  importance?: number;
  /** null removes the expiry; undefined leaves it. */
  expiresAt?: Date | null;
}

/**
 * Applies the changes, and records the UPDATED event, if the memory is live and still at
 * `expectedVersion` (when given); one statement. Returns the content before and the row
 * after, or null when the id is unknown, expired or at another version.
 */
export async function updateMemory(
  db: Queryable,
  id: string,
  changes: MemoryChanges,
  expectedVersion: number | null,
  now: Date,
  event: WriteEvent,
): Promise<{ previousContent: string; after: MemoryRow; recorded: RecordedChange } | null> {
  const rows = await db.query<MemoryRow & { previousContent: string } & RecordedColumns>(
    `WITH ${lockContext('SELECT context_id FROM memories WHERE id = $1')},
     before AS (
       SELECT m.id, m.content FROM memories m
       WHERE m.id = $1 AND m.context_id IN (SELECT id FROM locked) AND ${liveMemory('$2')} AND ($3::int IS NULL OR m.version = $3)
       FOR UPDATE
     ), updated AS (
       UPDATE memories AS m SET
         content = COALESCE($4, m.content),
         kind = COALESCE($5, m.kind),
         tags = COALESCE($6, m.tags),
         metadata = CASE WHEN $7::boolean THEN $8::jsonb ELSE m.metadata END,
         importance = COALESCE($9, m.importance),
         expires_at = CASE WHEN $10::boolean THEN $11::timestamptz ELSE m.expires_at END,
         version = m.version + 1,
         updated_at = $2
       FROM before WHERE m.id = before.id
       RETURNING ${MEMORY_COLUMNS}, before.content AS "previousContent"
     ), written AS (
       SELECT updated.*, $12::text AS event_id, $13::text AS actor_id, $2::timestamptz AS at FROM updated
     ), events AS (${recordEvents('UPDATED', 'written', 'w."previousContent"', 'w.content')}),
     ${raiseListVersion('written')},
     ${recordChange(
       changeJson({
         reason: 'MEMORY_UPDATED',
         ownerId: 'w."ownerId"',
         contextId: 'w."contextId"',
         memories: `jsonb_build_array(${entityJson('w.id', 'w.version', false)})`,
         list: LISTED,
       }),
       'written',
       '$2',
     )}
     SELECT ${RETURNED}, "previousContent", ${RECORDED} FROM written`,
    [
      id,
      now,
      expectedVersion,
      changes.content ?? null,
      changes.kind ?? null,
      changes.tags ?? null,
      changes.metadata !== undefined,
      changes.metadata === undefined || changes.metadata === null ? null : JSON.stringify(changes.metadata),
      changes.importance ?? null,
      changes.expiresAt !== undefined,
      changes.expiresAt ?? null,
      event.id,
      event.actorId,
    ],
  );
  const row = rows[0];
  if (!row) return null;
  const { previousContent, recorded, ...after } = withRecordedChange(row);
  return { previousContent, after, recorded };
}

/**
 * Deletes a live memory and records the DELETED event and the change in one statement; returns
 * the memory as it was, or null when the id is unknown or expired.
 */
export async function deleteMemory(
  db: Queryable,
  id: string,
  now: Date,
  event: WriteEvent,
): Promise<{ deleted: MemoryRow; recorded: RecordedChange } | null> {
  const rows = await db.query<MemoryRow & RecordedColumns>(
    `WITH ${lockContext('SELECT context_id FROM memories WHERE id = $1')},
     deleted AS (
       DELETE FROM memories m WHERE m.id = $1 AND m.context_id IN (SELECT id FROM locked) AND ${liveMemory('$2')}
       RETURNING ${MEMORY_COLUMNS}
     ), written AS (
       SELECT deleted.*, $3::text AS event_id, $4::text AS actor_id, $2::timestamptz AS at FROM deleted
     ), events AS (${recordEvents('DELETED', 'written', 'w.content', 'NULL')}),
     ${raiseListVersion('written')},
     ${recordChange(
       changeJson({
         reason: 'MEMORY_DELETED',
         ownerId: 'w."ownerId"',
         contextId: 'w."contextId"',
         memories: `jsonb_build_array(${entityJson('w.id', 'w.version + 1', true)})`,
         list: LISTED,
       }),
       'written',
       '$2',
     )}
     SELECT ${RETURNED}, ${RECORDED} FROM written`,
    [id, now, event.id, event.actorId],
  );
  const row = rows[0];
  if (!row) return null;
  const { recorded, ...deleted } = withRecordedChange(row);
  return { deleted, recorded };
}

/** The ids of a context's live memories, a page at a time in id order (warming the cache). */
export async function pageLiveMemoryIdsOfContext(db: Queryable, contextId: string, page: { afterId: string | null; limit: number }, now: Date): Promise<string[]> {
  const rows = await db.query<{ id: string }>(
    `SELECT m.id FROM memories m
     WHERE m.context_id = $1 AND ($2::text IS NULL OR m.id > $2) AND ${liveMemory('$4')}
     ORDER BY m.id LIMIT $3`,
    [contextId, page.afterId, page.limit, now],
  );
  return rows.map((row) => row.id);
}
