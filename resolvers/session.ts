import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { login, signUp } from '../src/auth/accounts.js';
import type { GraphQLContext } from '../src/graphql-context.js';
import { logout } from '../src/services/sessions.js';

const sessionMeta = (ctx: GraphQLContext) => ({
  userAgent: ctx.request.headers.get('user-agent'),
  ip: ctx.clientIp,
});

export const sessionResolvers: Resolvers = {
  Mutation: {
    signUp: (_parent, { input }, ctx) => signUp(ctx.deps, input, sessionMeta(ctx)),
    login: (_parent, { input }, ctx) => login(ctx.deps, input, sessionMeta(ctx)),
    logout: (_parent, _args, ctx) => logout(ctx),
  },
};
