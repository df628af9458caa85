import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { GraphQLError, ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AdmissionControl } from '../admission/admission.js';
import type { AppDeps } from '../app-deps.js';
import { useAdmission } from './use-admission.js';
import { useCsrfPrevention } from './use-csrf-prevention.js';
import { useDashboard } from './use-dashboard.js';
import { useHealthEndpoint } from './use-health-endpoint.js';
import { useInputGuard } from './use-input-guard.js';
import { useIntrospectionPolicy } from './use-introspection-policy.js';
import { useNoSuggestions } from './use-no-suggestions.js';
import { usePersistedQueries } from './use-persisted-queries.js';
import { useReadyEndpoint } from './use-ready-endpoint.js';
import { useRecallResponseCache } from './use-recall-response-cache.js';
import { useReply } from './use-reply.js';
import { useResponseLimit } from './use-response-limit.js';
import { useRequestLogger } from './use-request-logger.js';
import { useSequentialBatches } from './use-sequential-batches.js';

/**
 * graphql-armor throws from inside validation by default, which yoga answers with 200; reported
 * as validation errors instead, the refusals get 400 like every other invalid document.
 */
const asValidationError = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/**
 * Plugins in the order they run: the CSRF rule, a persisted query's text found by its hash,
 * admission, what validation may show (introspection, suggestions), then cheap refusals of
 * abusive documents, then the response cache.
 */
export function createPlugins(deps: AppDeps, admission: AdmissionControl): Plugin[] {
  const { config } = deps;
  return [
    useRequestLogger({ logger: deps.logger }),
    useCsrfPrevention(),
    useHealthEndpoint({ db: deps.db, cache: deps.cache, logger: deps.logger }),
    useDashboard(),
    useReadyEndpoint({ db: deps.db, logger: deps.logger }),
    useSequentialBatches(),
    usePersistedQueries({ store: deps.cache.persistedQueries, maxQueryBytes: config.APQ_MAX_QUERY_BYTES }),
    useAdmission({ admission }),
    // Validation rules that depend on the admitted viewer, and on what production shows.
    useIntrospectionPolicy({ mode: config.INTROSPECTION }),
    ...(config.FIELD_SUGGESTIONS ? [] : [useNoSuggestions()]),
    maxTokensPlugin({ n: config.MAX_QUERY_TOKENS }),
    maxDepthPlugin({ n: config.MAX_QUERY_DEPTH, ignoreIntrospection: true, flattenFragments: true, ...asValidationError }),
    maxAliasesPlugin({ n: config.MAX_QUERY_ALIASES, ...asValidationError }),
    useInputGuard(),
    useResponseLimit({ maxBytes: config.MAX_RESPONSE_BYTES }),
    ...useRecallResponseCache({
      enabled: config.RESPONSE_CACHE_ENABLED,
      ttlMs: config.RESPONSE_CACHE_TTL_SECONDS * 1000,
      store: deps.cache.responses,
      accessRecorder: deps.accessRecorder,
      metrics: deps.cache.metrics,
      clock: deps.clock,
    }),
    useReply({ development: config.NODE_ENV === 'development' }),
  ] as Plugin[];
}
