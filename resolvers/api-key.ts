import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../src/services/api-keys.js';

export const apiKeyResolvers: Resolvers = {
  Mutation: {
    createApiKey: (_parent, { input }, ctx) => createApiKey(ctx, input),
    revokeApiKey: (_parent, { input }, ctx) => revokeApiKey(ctx, input),
  },
  User: {
    apiKeys: (user, _args, ctx) => listApiKeys(ctx, user),
  },
};
