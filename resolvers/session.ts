import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { login, signUp } from '../src/auth/accounts.js';
import type { GraphQLContext } from '../src/graphql-context.js';
import { deleteAccount, deleteUser } from '../src/services/account-deletion.js';
import { isCurrentSession, listSessions, logout, logoutEverywhere, revokeSession } from '../src/services/sessions.js';

const sessionMeta = (ctx: GraphQLContext) => ({
  userAgent: ctx.request.headers.get('user-agent'),
  ip: ctx.clientIp,
});

export const sessionResolvers: Resolvers = {
  Mutation: {
    signUp: (_parent, { input }, ctx) => signUp(ctx.deps, input, sessionMeta(ctx)),
    login: (_parent, { input }, ctx) => login(ctx.deps, input, sessionMeta(ctx)),
    logout: (_parent, _args, ctx) => logout(ctx),
    revokeSession: (_parent, { input }, ctx) => revokeSession(ctx, input),
    logoutEverywhere: (_parent, { input }, ctx) => logoutEverywhere(ctx, input),
    deleteAccount: (_parent, { input }, ctx) => deleteAccount(ctx, input),
    deleteUser: (_parent, { input }, ctx) => deleteUser(ctx, input),
  },
  User: {
    sessions: (user, args, ctx) => listSessions(ctx, user, args),
  },
  Session: {
    current: (session, _args, ctx) => isCurrentSession(ctx, session),
  },
};
