import type { Queryable } from '../database.js';
import type { MemoryEventRow } from '../rows.js';

const COLUMNS = `id, memory_id AS "memoryId", context_id AS "contextId", owner_id AS "ownerId",
  actor_id AS "actorId", type, version, old_content AS "previousContent", new_content AS "content",
  occurred_at AS "occurredAt"`;

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

/** The events with these ids, in one statement. */
export function findEventsByIds(db: Queryable, ids: readonly string[]): Promise<MemoryEventRow[]> {
  return db.query<MemoryEventRow>(`SELECT ${COLUMNS} FROM memory_events WHERE id = ANY($1::text[])`, [ids]);
}
