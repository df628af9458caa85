import type { Queryable } from '../database.js';
import type { MemoryRow } from '../rows.js';
import { liveMemory, MEMORY_COLUMNS } from './memories.js';

/** Named apart from the memory's own columns (a memory has an `importance` too). */
export interface ScoreColumns {
  score: number;
  scoreText: number;
  scoreRecency: number;
  scoreImportance: number;
  scoreAccess: number;
}

/**
 * Scores memory `m` (joined with its access row `a`) against a tsquery, as of a timestamp,
 * with the formula's numbers: three parameter placeholders and the query expression.
 */
const scored = (query: string, at: string, params: string) => `
  CROSS JOIN LATERAL recall_relevance(
    ts_rank_cd(m.search_vector, ${query}),
    extract(epoch FROM (${at}::timestamptz - m.updated_at)) * 1000,
    m.importance,
    coalesce(a.access_count, 0),
    ${params}::float8[]
  ) AS s`;

const SCORE_COLUMNS = `s.score, s.text_relevance AS "scoreText", s.recency AS "scoreRecency",
  s.importance AS "scoreImportance", s.access_frequency AS "scoreAccess"`;

export type ContextRelevanceRow = ScoreColumns & {
  memoryId: string;
  contextId: string;
  memoryVersion: number;
  contextVersion: number;
};

/**
 * Scores each (memory, context) pair for `userId`: text against the context's name and
 * description, and the other factors. One statement for any number of pairs.
 */
export function scoreAgainstContexts(
  db: Queryable,
  search: { userId: string; at: Date; params: number[] },
  pairs: ReadonlyArray<{ memoryId: string; contextId: string }>,
): Promise<ContextRelevanceRow[]> {
  return db.query<ContextRelevanceRow>(
    `SELECT m.id AS "memoryId", c.id AS "contextId", m.version AS "memoryVersion", c.version AS "contextVersion",
       ${SCORE_COLUMNS}
     FROM unnest($2::text[], $3::text[]) AS k(memory_id, context_id)
     JOIN memories m ON m.id = k.memory_id
     JOIN contexts c ON c.id = k.context_id
     LEFT JOIN memory_access a ON a.user_id = $1 AND a.memory_id = m.id
     ${scored(`recall_any_words(c.name || ' ' || coalesce(c.description, ''))`, '$4', '$5')}`,
    [search.userId, pairs.map((pair) => pair.memoryId), pairs.map((pair) => pair.contextId), search.at, search.params],
  );
}

export type SearchHitRow = MemoryRow & ScoreColumns;

/**
 * One page of a context's live memories that match any word of `query`, best score first,
 * ties by id; `after` continues from a previous page's last (score, id).
 */
export function searchMemoryPage(
  db: Queryable,
  search: {
    userId: string;
    contextId: string;
    query: string;
    threshold: number;
    after: { score: number; id: string } | null;
    limit: number;
    at: Date;
    now: Date;
    params: number[];
  },
): Promise<SearchHitRow[]> {
  return db.query<SearchHitRow>(
    `SELECT * FROM (
       SELECT ${MEMORY_COLUMNS}, ${SCORE_COLUMNS}
       FROM memories m
       CROSS JOIN recall_any_words($3) AS q
       LEFT JOIN memory_access a ON a.user_id = $1 AND a.memory_id = m.id
       ${scored('q', '$4', '$5')}
       WHERE m.context_id = $2 AND m.search_vector @@ q AND ${liveMemory('$6')}
     ) hits
     WHERE score >= $7 AND ($8::float8 IS NULL OR (score, id) < ($8::float8, $9::text))
     ORDER BY score DESC, id DESC
     LIMIT $10`,
    [
      search.userId,
      search.contextId,
      search.query,
      search.at,
      search.params,
      search.now,
      search.threshold,
      search.after?.score ?? null,
      search.after?.id ?? null,
      search.limit,
    ],
  );
}

export interface AccessCount {
  userId: string;
  memoryId: string;
  count: number;
}

/** Adds retrieval counts in one statement; counts of memories deleted meanwhile are dropped. */
export async function addMemoryAccess(db: Queryable, counts: readonly AccessCount[], at: Date): Promise<void> {
  if (counts.length === 0) return;
  // Rows are locked in key order so that concurrent writers cannot deadlock.
  await db.query(
    `INSERT INTO memory_access (user_id, memory_id, access_count, last_accessed_at)
     SELECT k.user_id, m.id, k.count, $4
     FROM unnest($1::text[], $2::text[], $3::int[]) AS k(user_id, memory_id, count)
     JOIN memories m ON m.id = k.memory_id
     JOIN users u ON u.id = k.user_id
     ORDER BY k.user_id, m.id
     ON CONFLICT (user_id, memory_id)
     DO UPDATE SET access_count = memory_access.access_count + EXCLUDED.access_count, last_accessed_at = $4`,
    [counts.map((c) => c.userId), counts.map((c) => c.memoryId), counts.map((c) => c.count), at],
  );
}
