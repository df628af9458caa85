import type { Resolvers } from '../src/__generated__/resolvers-types.js';

export const userResolvers: Resolvers = {
  Query: {
    viewer: (_parent, _args, ctx) => ctx.viewer?.user ?? null,
  },
};
