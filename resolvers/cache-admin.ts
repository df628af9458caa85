import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { cacheStats } from '../src/services/cache-stats.js';

export const cacheAdminResolvers: Resolvers = {
  Query: {
    cacheStats: (_parent, _args, ctx) => cacheStats(ctx),
  },
};
