import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { createHotCounter } from '../observability/bound-labels.js';

/**
 * Every cache counter in one place, registered on the app's registry (the operations work
 * exposes it on /metrics). Each app instance has its own registry, so tests can run several.
 */
export function createCacheMetrics(registry: Registry) {
  const registers = [registry];
  return {
    lookups: createHotCounter({
      name: 'recall_cache_lookups_total',
      help: 'Cache lookups by entity kind, tier and result (hit, miss, stale, negative).',
      labelNames: ['kind', 'tier', 'result'] as const,
      registers,
    }),
    unreadable: new Counter({
      name: 'recall_cache_unreadable_total',
      help: 'Cached values that did not open (tampered, truncated, moved from another key, or sealed under an unknown secret), by kind; each is a miss.',
      labelNames: ['kind'] as const,
      registers,
    }),
    loads: new Counter({
      name: 'recall_cache_source_loads_total',
      help: 'Entities read from PostgreSQL because the cache could not answer, by kind.',
      labelNames: ['kind'] as const,
      registers,
    }),
    errors: new Counter({
      name: 'recall_cache_errors_total',
      help: 'Failed cache operations by tier and operation; a failure is a miss, never a failed request.',
      labelNames: ['tier', 'operation'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'recall_cache_operation_duration_seconds',
      help: 'Latency of cache operations by tier and operation.',
      labelNames: ['tier', 'operation'] as const,
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers,
    }),
    fastPathHits: createHotCounter({
      name: 'recall_response_cache_fast_path_hits_total',
      help: 'Cached responses sent by the cached-hit front, before the GraphQL pipeline, by status (200, or 304 for a matching ETag).',
      labelNames: ['status'] as const,
      registers,
    }),
    redisRoundTrips: new Counter({
      name: 'recall_cache_redis_round_trips_total',
      help: 'Round trips to Redis (one per MGET, pipeline or script call).',
      registers,
    }),
    skipped: new Counter({
      name: 'recall_cache_redis_skipped_total',
      help: 'Cache operations that skipped Redis because its circuit was open.',
      labelNames: ['operation'] as const,
      registers,
    }),
    circuitOpen: new Gauge({
      name: 'recall_cache_redis_circuit_open',
      help: '1 while Redis is skipped after repeated failures, 0 while it is used.',
      registers,
    }),
    circuitTransitions: new Counter({
      name: 'recall_cache_redis_circuit_transitions_total',
      help: 'Times the Redis circuit opened (after repeated failures) or closed (a probe answered), by the state it went to.',
      labelNames: ['to'] as const,
      registers,
    }),
    lookupDuration: new Histogram({
      name: 'recall_cache_lookup_duration_seconds',
      help: 'Latency of each tier\'s part of a lookup (a batch of entities, or a response), by kind and tier (l1, redis, memory, and database for the batched load of what the cache could not answer).',
      labelNames: ['kind', 'tier'] as const,
      buckets: [0.00005, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    invalidations: new Counter({
      name: 'recall_cache_invalidations_total',
      help: 'Invalidations applied after writes, by reason (MEMORY_UPDATED, CONTEXT_DELETED…).',
      labelNames: ['reason'] as const,
      registers,
    }),
    replayed: new Counter({
      name: 'recall_cache_invalidations_replayed_total',
      help: 'Invalidations applied from the outbox by an instance other than their writer, or after a Redis fault.',
      registers,
    }),
    waitingWriters: new Gauge({
      name: 'recall_cache_writers_waiting',
      help: 'Writes whose reply waits for Redis to acknowledge their invalidation (Redis slow or unreachable from here).',
      registers,
    }),
    syncs: new Counter({
      name: 'recall_cache_syncs_total',
      help: 'Times this instance synced Redis with the outbox before using it (start-up, and after each fault it noticed).',
      registers,
    }),
    generations: new Counter({
      name: 'recall_cache_generations_total',
      help: 'Cold starts of the cached data: Redis was found empty, flushed, or behind what it had acknowledged.',
      registers,
    }),
    storesRefused: new Counter({
      name: 'recall_response_cache_stores_refused_total',
      help: 'Computed responses not stored because an entity in them was invalidated after their request began.',
      registers,
    }),
  };
}

export type CacheMetrics = ReturnType<typeof createCacheMetrics>;
