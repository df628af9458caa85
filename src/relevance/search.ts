import { z } from 'zod';
import type { SearchMemoriesInput } from '../__generated__/resolvers-types.js';
import type { MemoryRow } from '../db/rows.js';
import { findSearchCandidates } from '../db/repositories/relevance.js';
import { clientError } from '../errors.js';
import type { GraphQLContext } from '../graphql-context.js';
import { decodeCursor, encodeCursor, pageSize, toConnection } from '../pagination.js';
import { requireViewer, visibleContext } from '../services/access.js';
import { countRetrievals } from '../services/memories.js';
import { parseArgs } from '../validation.js';
import { factorsAt, scoreRelevance, type ScoreBreakdown } from './score.js';

const searchArgs = z.object({
  contextId: z.string(),
  query: z.string().trim().min(1, 'must not be empty').max(1000),
  threshold: z.number().min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1').nullish(),
  explain: z.boolean().nullish(),
});

/** (score, id, the instant scores were computed at): later pages score as of the first one. */
const searchCursor = z.tuple([z.number(), z.string().startsWith('mem_'), z.number().int()]);

interface Hit {
  memory: MemoryRow;
  score: number;
  breakdown: ScoreBreakdown;
}

/** Orders by score, best first; ties by id, newest first. The cursor is the (score, id) pair. */
const before = (a: { score: number; id: string }, b: { score: number; id: string }) =>
  a.score > b.score || (a.score === b.score && a.id > b.id);

/**
 * Ranks the context's memories that match any query word by the combined relevance score.
 * The database ranks text (GIN-indexed) and caps the candidates; scoring, the threshold and
 * keyset paging over (score, id) happen here, with the same formula as `Memory.relevance`.
 */
export async function searchMemories(ctx: GraphQLContext, input: SearchMemoriesInput) {
  const viewer = requireViewer(ctx);
  const args = parseArgs(searchArgs, input);
  const limit = pageSize(input.first, ctx.deps.config);
  const after = input.after ? decodeCursor(input.after, searchCursor) : null;
  const context = await visibleContext(ctx, args.contextId);
  if (!context) throw clientError('NOT_FOUND', 'No context with this id.', { field: ['contextId'] });

  const now = ctx.deps.clock.now();
  const scoredAt = after ? new Date(after[2]) : now;
  const candidates = await findSearchCandidates(ctx.deps.db, {
    userId: viewer.user.id,
    contextId: context.id,
    query: args.query,
    limit: ctx.deps.config.SEARCH_CANDIDATE_LIMIT,
    now,
  });
  const hits: Hit[] = candidates
    .map((row) => {
      const { textRank: _textRank, accessCount: _accessCount, ...memory } = row;
      return { memory, ...scoreRelevance(factorsAt(row, scoredAt), ctx.deps.config.RELEVANCE_RECENCY_HALF_LIFE_HOURS) };
    })
    .filter((hit) => hit.score >= (args.threshold ?? 0))
    .filter((hit) => !after || before({ score: after[0], id: after[1] }, { score: hit.score, id: hit.memory.id }))
    .sort((a, b) => (before({ score: a.score, id: a.memory.id }, { score: b.score, id: b.memory.id }) ? -1 : 1))
    .slice(0, limit + 1);

  const page = toConnection(hits, limit, (hit) => encodeCursor([hit.score, hit.memory.id, scoredAt.getTime()]));
  for (const { node } of page.edges) ctx.loaders.memory.prime(node.memory.id, node.memory);
  await countRetrievals(ctx, page.edges.map(({ node }) => node.memory.id));
  return {
    pageInfo: page.pageInfo,
    edges: page.edges.map(({ cursor, node }) => ({
      cursor,
      node: node.memory,
      score: node.score,
      breakdown: args.explain ? node.breakdown : null,
    })),
  };
}
