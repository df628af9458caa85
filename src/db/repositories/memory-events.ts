import type { Queryable } from '../database.js';
import type { MemoryEventRow } from '../rows.js';

const COLUMNS = `id, memory_id AS "memoryId", context_id AS "contextId", owner_id AS "ownerId",
  actor_id AS "actorId", type, version, old_content AS "previousContent", new_content AS "content",
  occurred_at AS "occurredAt"`;

export async function insertMemoryEvents(db: Queryable, events: readonly MemoryEventRow[]): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `INSERT INTO memory_events (id, memory_id, context_id, owner_id, actor_id, type, version, old_content,
       new_content, occurred_at)
     SELECT id, memory_id, context_id, owner_id, actor_id, type, version, old_content, new_content, occurred_at
     FROM jsonb_to_recordset($1::jsonb) AS x(id text, memory_id text, context_id text, owner_id text,
       actor_id text, type text, version int, old_content text, new_content text, occurred_at timestamptz)`,
    [
      JSON.stringify(
        events.map((event) => ({
          id: event.id,
          memory_id: event.memoryId,
          context_id: event.contextId,
          owner_id: event.ownerId,
          actor_id: event.actorId,
          type: event.type,
          version: event.version,
          old_content: event.previousContent,
          new_content: event.content,
          occurred_at: event.occurredAt,
        })),
      ),
    ],
  );
}

/** The latest `limit` events of each memory, newest first, in one statement. */
export function findRecentEventsOfMemories(
  db: Queryable,
  memoryIds: readonly string[],
  limit: number,
): Promise<MemoryEventRow[]> {
  return db.query<MemoryEventRow>(
    `SELECT ${COLUMNS} FROM (
       SELECT e.*, row_number() OVER (PARTITION BY e.memory_id ORDER BY e.version DESC, e.id DESC) AS n
       FROM memory_events e WHERE e.memory_id = ANY($1::text[])
     ) ranked
     WHERE n <= $2
     ORDER BY memory_id, version DESC, id DESC`,
    [memoryIds, limit],
  );
}
