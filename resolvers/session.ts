import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { login, signUp } from '../src/auth/accounts.js';
import { endSession } from '../src/auth/sessions.js';
import { publishSessionEnded } from '../src/services/change-events.js';
import type { GraphQLContext } from '../src/graphql-context.js';
import { requireViewer } from '../src/services/access.js';

const sessionMeta = (ctx: GraphQLContext) => ({
  userAgent: ctx.request.headers.get('user-agent'),
  ip: ctx.clientIp,
});

export const sessionResolvers: Resolvers = {
  Mutation: {
    signUp: (_parent, { input }, ctx) => signUp(ctx.deps, input, sessionMeta(ctx)),
    login: (_parent, { input }, ctx) => login(ctx.deps, input, sessionMeta(ctx)),
    logout: async (_parent, _args, ctx) => {
      const { session } = requireViewer(ctx);
      await endSession(ctx.deps, session);
      await publishSessionEnded(ctx, session);
      return { sessionId: session.id, errors: [] };
    },
  },
};
