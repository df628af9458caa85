import { createCounter, createHistogram, usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';

export interface OperationMetricsOptions {
  registry: Registry;
  /** Distinct operation names given a label of their own; later ones count as `other`. Default: 200. */
  maxOperationNames?: number;
}

type OperationLabels = 'operationName' | 'operationType';

/**
 * GraphQL operation metrics from the yoga Prometheus plugin, under its own names and labels
 * (`graphql_envelop_request`, `…_request_duration`, `…_error_result`; operationName and
 * operationType), which users' dashboards expect. Operation names are chosen by clients, so
 * only the first `maxOperationNames` distinct ones get a label of their own: a client sending
 * a fresh name with every request cannot grow the series without bound. The plugin's other
 * metrics (per phase, per resolver, the URL of each request) are off for the same reason or
 * repeat what these say.
 */
export function useOperationMetrics({ registry, maxOperationNames = 200 }: OperationMetricsOptions): Plugin {
  const known = new Set<string>();
  const operationName = (name: string | undefined) => {
    const label = name ?? 'Anonymous';
    if (known.has(label)) return label;
    if (known.size >= maxOperationNames) return 'other';
    known.add(label);
    return label;
  };
  const fillLabelsFn = (params: FillLabelsFnParams): Record<OperationLabels, string> => ({
    operationName: operationName(params.operationName),
    operationType: params.operationType ?? 'unknown',
  });
  const labelNames: OperationLabels[] = ['operationName', 'operationType'];
  return usePrometheus({
    registry,
    endpoint: false,
    metrics: {
      graphql_envelop_request: createCounter({
        registry,
        counter: { name: 'graphql_envelop_request', help: 'GraphQL operations executed, by operation name and type.', labelNames },
        fillLabelsFn,
      }),
      graphql_envelop_request_duration: createHistogram({
        registry,
        histogram: {
          name: 'graphql_envelop_request_duration',
          help: 'Time to execute GraphQL operations (or set up subscriptions), in seconds, by operation name and type.',
          labelNames,
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        },
        fillLabelsFn,
      }),
      graphql_envelop_error_result: createCounter({
        registry,
        counter: {
          name: 'graphql_envelop_error_result',
          help: 'GraphQL operations whose result holds errors, by operation name and type and the phase that failed.',
          labelNames: [...labelNames, 'phase'],
        },
        fillLabelsFn: (params: FillLabelsFnParams & { errorPhase?: string }) => ({ ...fillLabelsFn(params), phase: params.errorPhase ?? 'unknown' }),
      }),
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_parse: false,
      graphql_envelop_phase_validate: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_schema_change: false,
      graphql_envelop_execute_resolver: false,
      graphql_yoga_http_duration: false,
    },
  });
}
