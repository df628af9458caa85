import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { Plugin } from 'graphql-yoga';
import type { AppDeps } from '../graphql-context.js';
import { useHealthEndpoint } from './use-health-endpoint.js';
import { useRequestLogger } from './use-request-logger.js';

/** Plugins in the order they run: cheap refusals of abusive documents before any work. */
export function createPlugins(deps: AppDeps): Plugin[] {
  const { config } = deps;
  return [
    useRequestLogger({ logger: deps.logger }),
    useHealthEndpoint({ db: deps.db }),
    maxTokensPlugin({ n: config.MAX_QUERY_TOKENS }),
    maxDepthPlugin({ n: config.MAX_QUERY_DEPTH, ignoreIntrospection: true, flattenFragments: true }),
    maxAliasesPlugin({ n: config.MAX_QUERY_ALIASES }),
  ] as Plugin[];
}
