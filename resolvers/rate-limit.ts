import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { rateLimitsOf, resetRateLimit } from '../src/services/rate-limits.js';

export const rateLimitResolvers: Resolvers = {
  User: {
    rateLimits: (user, _args, ctx) => (ctx.viewer?.user.id === user.id ? rateLimitsOf(ctx) : null),
  },
  Mutation: {
    resetRateLimit: (_parent, { input }, ctx) => resetRateLimit(ctx, input),
  },
};
