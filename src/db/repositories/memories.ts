import type { MemoryKind } from '../../__generated__/resolvers-types.js';
import type { Queryable } from '../database.js';
import type { MemoryRow } from '../rows.js';

export const MEMORY_COLUMNS = `m.id, m.context_id AS "contextId", m.owner_id AS "ownerId", m.content, m.kind, m.tags,
  m.metadata, m.importance, m.version, m.created_at AS "createdAt", m.updated_at AS "updatedAt",
  m.expires_at AS "expiresAt"`;

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

/** Inserts a batch in one statement; rows come back in input order. */
export function insertMemories(db: Queryable, rows: readonly NewMemoryRow[]): Promise<MemoryRow[]> {
  const items = rows.map((row, position) => ({
    position,
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
  return db.query<MemoryRow>(
    `WITH items AS (
       SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(position int, id text, context_id text, owner_id text,
         content text, kind text, tags text[], metadata jsonb, importance float8, created_at timestamptz,
         expires_at timestamptz)
     ), inserted AS (
       INSERT INTO memories AS m (id, context_id, owner_id, content, kind, tags, metadata, importance,
         created_at, updated_at, expires_at)
       SELECT id, context_id, owner_id, content, kind, tags, metadata, importance, created_at, created_at, expires_at
       FROM items
       RETURNING ${MEMORY_COLUMNS}
     )
     SELECT inserted.* FROM inserted JOIN items USING (id) ORDER BY items.position`,
    [JSON.stringify(items)],
  );
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
 * Applies the changes if the memory is live and still at `expectedVersion` (when given).
 * Returns the row before and after, or null when the id is unknown, expired or at another version.
 */
export async function updateMemory(
  db: Queryable,
  id: string,
  changes: MemoryChanges,
  expectedVersion: number | null,
  now: Date,
): Promise<{ before: MemoryRow; after: MemoryRow } | null> {
  const rows = await db.query<{ before: MemoryRow; after: MemoryRow }>(
    `WITH before AS (
       SELECT ${MEMORY_COLUMNS} FROM memories m
       WHERE m.id = $1 AND ${liveMemory('$2')} AND ($3::int IS NULL OR m.version = $3)
       FOR UPDATE
     ), after AS (
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
       RETURNING ${MEMORY_COLUMNS}
     )
     SELECT row_to_json(before.*) AS before, row_to_json(after.*) AS after FROM before, after`,
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
    ],
  );
  const row = rows[0];
  return row ? { before: reviveMemory(row.before), after: reviveMemory(row.after) } : null;
}

/** Deletes a live memory and returns it as it was, or null when the id is unknown or expired. */
export async function deleteMemory(db: Queryable, id: string, now: Date): Promise<MemoryRow | null> {
  const rows = await db.query<MemoryRow>(
    `DELETE FROM memories m WHERE m.id = $1 AND ${liveMemory('$2')} RETURNING ${MEMORY_COLUMNS}`,
    [id, now],
  );
  return rows[0] ?? null;
}

/** row_to_json turns timestamps into strings; bring them back to Dates. */
function reviveMemory(row: MemoryRow): MemoryRow {
  return {
    ...row,
    createdAt: new Date(row.createdAt),
    updatedAt: new Date(row.updatedAt),
    expiresAt: row.expiresAt === null ? null : new Date(row.expiresAt),
  };
}
