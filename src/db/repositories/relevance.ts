import type { Queryable } from '../database.js';
import type { MemoryRow } from '../rows.js';
import { liveMemory, MEMORY_COLUMNS } from './memories.js';

/** Cover-density rank of a memory's document (tags and content) against a tsquery. */
const TEXT_RANK = (query: string) => `ts_rank_cd(m.search_vector, ${query})`;

export interface ContextRelevanceRow {
  memoryId: string;
  contextId: string;
  updatedAt: Date;
  importance: number;
  textRank: number;
  accessCount: number;
}

/**
 * For each (memory, context) pair: the memory's text rank against the context's name and
 * description, and how often `userId` retrieved it. One statement for any number of pairs.
 */
export function findContextRelevanceFactors(
  db: Queryable,
  userId: string,
  pairs: ReadonlyArray<{ memoryId: string; contextId: string }>,
): Promise<ContextRelevanceRow[]> {
  return db.query<ContextRelevanceRow>(
    `SELECT m.id AS "memoryId", c.id AS "contextId", m.updated_at AS "updatedAt", m.importance,
       ${TEXT_RANK(`recall_any_words(c.name || ' ' || coalesce(c.description, ''))`)} AS "textRank",
       coalesce(a.access_count, 0) AS "accessCount"
     FROM unnest($2::text[], $3::text[]) AS k(memory_id, context_id)
     JOIN memories m ON m.id = k.memory_id
     JOIN contexts c ON c.id = k.context_id
     LEFT JOIN memory_access a ON a.user_id = $1 AND a.memory_id = m.id`,
    [userId, pairs.map((pair) => pair.memoryId), pairs.map((pair) => pair.contextId)],
  );
}

export type SearchCandidateRow = MemoryRow & { textRank: number; accessCount: number };

/** The live memories of a context matching any word of `query`, best text match first. */
export function findSearchCandidates(
  db: Queryable,
  search: { userId: string; contextId: string; query: string; limit: number; now: Date },
): Promise<SearchCandidateRow[]> {
  return db.query<SearchCandidateRow>(
    `SELECT ${MEMORY_COLUMNS}, ${TEXT_RANK('q')} AS "textRank", coalesce(a.access_count, 0) AS "accessCount"
     FROM memories m
     CROSS JOIN recall_any_words($3) AS q
     LEFT JOIN memory_access a ON a.user_id = $1 AND a.memory_id = m.id
     WHERE m.context_id = $2 AND m.search_vector @@ q AND ${liveMemory('$5')}
     ORDER BY "textRank" DESC, m.id DESC
     LIMIT $4`,
    [search.userId, search.contextId, search.query, search.limit, search.now],
  );
}

/** Counts one retrieval of each memory by the user. */
export async function recordMemoryAccess(
  db: Queryable,
  userId: string,
  memoryIds: readonly string[],
  at: Date,
): Promise<void> {
  if (memoryIds.length === 0) return;
  await db.query(
    `INSERT INTO memory_access (user_id, memory_id, access_count, last_accessed_at)
     SELECT $1, m.id, 1, $3 FROM memories m WHERE m.id = ANY($2::text[])
     ON CONFLICT (user_id, memory_id)
     DO UPDATE SET access_count = memory_access.access_count + 1, last_accessed_at = $3`,
    [userId, memoryIds, at],
  );
}
