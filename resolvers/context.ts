import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { visibleContext } from '../src/services/access.js';
import { createContext, deleteContext, listContexts, updateContext } from '../src/services/contexts.js';
import { listMemories } from '../src/services/memories.js';

export const contextResolvers: Resolvers = {
  Query: {
    context: (_parent, { id }, ctx) => visibleContext(ctx, id),
    contexts: (_parent, args, ctx) => listContexts(ctx, args),
  },
  Mutation: {
    createContext: (_parent, { input }, ctx) => createContext(ctx, input),
    updateContext: (_parent, { input }, ctx) => updateContext(ctx, input),
    deleteContext: (_parent, { input }, ctx) => deleteContext(ctx, input),
  },
  Context: {
    memories: (context, args, ctx) => listMemories(ctx, context, args),
  },
};
