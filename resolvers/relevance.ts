import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { clientError } from '../src/errors.js';
import { searchMemories } from '../src/relevance/search.js';
import { requireViewer, visibleContext } from '../src/services/access.js';

export const relevanceResolvers: Resolvers = {
  Query: {
    searchMemories: (_parent, { input }, ctx) => searchMemories(ctx, input),
  },
  Memory: {
    relevance: async (memory, { contextId }, ctx) => {
      const context = await visibleContext(ctx, contextId);
      if (!context) throw clientError('NOT_FOUND', 'No context with this id.', { field: ['contextId'] });
      const score = await ctx.loaders.relevance.load({
        userId: requireViewer(ctx).user.id,
        contextId: context.id,
        memoryId: memory.id,
        memoryVersion: memory.version,
        contextVersion: context.version,
      });
      if (!score) throw clientError('NOT_FOUND', 'This memory no longer exists.');
      return score;
    },
  },
  RelevanceScore: {
    memory: async (score, _args, ctx) => {
      const memory = await ctx.loaders.memory.load(score.memoryId);
      if (!memory) throw clientError('NOT_FOUND', 'This memory no longer exists.');
      return memory;
    },
    context: async (score, _args, ctx) => {
      const context = await ctx.loaders.context.load(score.contextId);
      if (!context) throw clientError('NOT_FOUND', 'This context no longer exists.');
      return context;
    },
  },
};
