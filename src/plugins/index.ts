import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AppDeps } from '../graphql-context.js';
import { clientIp } from '../client-ip.js';
import { useAuthentication } from './use-authentication.js';
import { useOperationBudget } from './use-operation-budget.js';
import { useHealthEndpoint } from './use-health-endpoint.js';
import { useNulGuard } from './use-nul-guard.js';
import { useRecallResponseCache } from './use-recall-response-cache.js';
import { useRequestLogger } from './use-request-logger.js';

/**
 * graphql-armor throws from inside validation by default, which yoga answers with 200; reported
 * as validation errors instead, the refusals get 400 like every other invalid document.
 */
const asValidationError = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/** Plugins in the order they run: cheap refusals of abusive documents before any work. */
export function createPlugins(deps: AppDeps): Plugin[] {
  const { config } = deps;
  return [
    useRequestLogger({ logger: deps.logger }),
    useHealthEndpoint({ db: deps.db, cache: deps.cache, logger: deps.logger }),
    useAuthentication(deps),
    useOperationBudget(deps.budget, (request, server) =>
      clientIp(config.TRUST_PROXY, request.headers.get('x-forwarded-for'), server.req?.socket.remoteAddress),
    ),
    maxTokensPlugin({ n: config.MAX_QUERY_TOKENS }),
    maxDepthPlugin({ n: config.MAX_QUERY_DEPTH, ignoreIntrospection: true, flattenFragments: true, ...asValidationError }),
    maxAliasesPlugin({ n: config.MAX_QUERY_ALIASES, ...asValidationError }),
    useNulGuard(),
    ...useRecallResponseCache({ config, store: deps.responses, clock: deps.clock }),
  ] as Plugin[];
}
