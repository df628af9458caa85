import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { clientError } from '../src/errors.js';
import { pageSize } from '../src/pagination.js';
import { isAdmin } from '../src/request-scope.js';
import { requireViewer } from '../src/services/access.js';
import { addMemories, deleteMemory, getMemory, updateMemory } from '../src/services/memories.js';

export const memoryResolvers: Resolvers = {
  Query: {
    memory: (_parent, { id }, ctx) => getMemory(ctx, id),
  },
  Mutation: {
    addMemories: (_parent, { input }, ctx) => addMemories(ctx, input),
    updateMemory: (_parent, { input }, ctx) => updateMemory(ctx, input),
    deleteMemory: (_parent, { input }, ctx) => deleteMemory(ctx, input),
  },
  Memory: {
    // The response cache always selects ids: here every memory of an answer is seen, and one
    // that expires caps how long the answer may be cached.
    id: (memory, _args, ctx) => {
      if (memory.expiresAt) ctx.cacheableUntil.at = Math.min(ctx.cacheableUntil.at, memory.expiresAt.getTime());
      return memory.id;
    },
    context: async (memory, _args, ctx) => {
      const context = await ctx.loaders.context.load(memory.contextId);
      if (!context) throw clientError('NOT_FOUND', 'The context of this memory no longer exists.');
      return context;
    },
    history: async (memory, { first }, ctx) =>
      ctx.loaders.memoryHistory.load({ memoryId: memory.id, limit: pageSize(first, ctx.deps.config) }),
  },
  MemoryEvent: {
    // Users see themselves as actors; who else wrote (an admin, say) is for admins to see.
    actor: (event, _args, ctx) => {
      const viewer = requireViewer(ctx);
      if (!event.actorId || (event.actorId !== viewer.user.id && !isAdmin(viewer))) return null;
      return ctx.loaders.user.load(event.actorId);
    },
  },
};
