import { z } from 'zod';
import { memorySearchTag } from '../cache/response-tags.js';
import { searchMemoryPage } from '../db/repositories/relevance.js';
import { clientError } from '../errors.js';
import { isId } from '../ids.js';
import { cursorInstant, decodeCursor, encodeCursor, pageSize, toConnection } from '../pagination.js';
import type { RequestScope } from '../request-scope.js';
import { recordRetrieval, requireViewer, visibleContext } from '../services/access.js';
import { parseArgs } from '../validation.js';
import { breakdownOf, scoreParams } from './score-params.js';

const searchArgs = z.object({
  contextId: z.string(),
  query: z.string().trim().min(1, 'must not be empty').max(1000),
  threshold: z.number().min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1').nullish(),
  explain: z.boolean().nullish(),
});

/**
 * (score, id, the instant the first page was scored at): later pages score as of that instant.
 * Scores are from 0 to 1 (the formula clamps them), so no other number is a cursor of ours.
 */
const searchCursor = z.tuple([z.number().min(0).max(1), z.string().refine((id) => isId(id, 'mem')), cursorInstant]);

/**
 * Ranks the context's live memories that match any word of the query by relevance score; the
 * database scores every match and pages over (score, id), so no result is ever cut off.
 */
export type SearchMemoriesInput = z.input<typeof searchArgs> & { first?: number | null; after?: string | null };

export async function searchMemories(scope: RequestScope, input: SearchMemoriesInput) {
  const viewer = requireViewer(scope);
  const args = parseArgs(searchArgs, input);
  const limit = pageSize(input.first, scope.deps.config);
  const after = input.after ? decodeCursor(input.after, searchCursor) : null;
  const context = await visibleContext(scope, args.contextId);
  if (!context) throw clientError('NOT_FOUND', 'No context with this id.', { field: ['contextId'] });

  const now = scope.deps.clock.now();
  const scoredAt = after ? new Date(after[2]) : now;
  const rows = await searchMemoryPage(scope.deps.db, {
    userId: viewer.user.id,
    contextId: context.id,
    query: args.query,
    threshold: args.threshold ?? 0,
    after: after ? { score: after[0], id: after[1] } : null,
    limit: limit + 1,
    at: scoredAt,
    now,
    params: scoreParams(scope.deps.config.RELEVANCE_RECENCY_HALF_LIFE_HOURS),
  });

  const page = toConnection(rows, limit, (row) => encodeCursor([row.score, row.id, scoredAt.getTime()]));
  const edges = page.edges.map(({ cursor, node }) => {
    const { score, scoreText, scoreRecency, scoreImportance, scoreAccess, ...memory } = node;
    scope.loaders.memory.prime(memory.id, memory);
    const breakdown = breakdownOf({ score, scoreText, scoreRecency, scoreImportance, scoreAccess });
    return { cursor, node: memory, score, breakdown: args.explain ? breakdown : null };
  });
  recordRetrieval(scope, edges.map((edge) => edge.node.id));
  scope.dependsOn.add(memorySearchTag(context.id));
  return { edges, pageInfo: page.pageInfo };
}
