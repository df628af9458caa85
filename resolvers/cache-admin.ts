import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { purgeCache } from '../src/services/cache-purge.js';
import { cacheStats } from '../src/services/cache-stats.js';
import { warmCache } from '../src/services/cache-warm.js';

export const cacheAdminResolvers: Resolvers = {
  Query: {
    cacheStats: (_parent, _args, ctx) => cacheStats(ctx),
  },
  Mutation: {
    purgeCache: (_parent, { input }, ctx) => purgeCache(ctx, input),
    warmCache: (_parent, { input }, ctx) => warmCache(ctx, input),
  },
};
