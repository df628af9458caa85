import { Counter, Gauge, type Registry } from 'prom-client';

export function createEventMetrics(registry: Registry) {
  const registers = [registry];
  return {
    published: new Counter({
      name: 'recall_events_published_total',
      help: 'Change events published, by kind and by whether they reached Redis (shared) or only this instance (local).',
      labelNames: ['kind', 'reach'] as const,
      registers,
    }),
    subscriptions: new Gauge({
      name: 'recall_subscriptions_active',
      help: 'Open GraphQL subscriptions on this instance, by field and transport (sse, websocket, sse-single).',
      labelNames: ['field', 'transport'] as const,
      registers,
    }),
    delivered: new Counter({
      name: 'recall_events_delivered_total',
      help: 'Events delivered to subscribers (one per subscriber that received it, replays included), by field and transport.',
      labelNames: ['field', 'transport'] as const,
      registers,
    }),
    replayed: new Counter({
      name: 'recall_events_replayed_total',
      help: 'Events read back for resuming subscribers (Last-Event-ID), by field and transport.',
      labelNames: ['field', 'transport'] as const,
      registers,
    }),
    resyncs: new Counter({
      name: 'recall_events_resyncs_total',
      help: "Resuming subscribers whose missed events were no longer all kept: they got a resync notice instead of a full replay, by field and transport.",
      labelNames: ['field', 'transport'] as const,
      registers,
    }),
    ended: new Counter({
      name: 'recall_subscriptions_ended_total',
      help: 'Subscriptions ended by the server, by reason: lagging, or error (e.g. the session ended).',
      labelNames: ['reason'] as const,
      registers,
    }),
  };
}

export type EventMetrics = ReturnType<typeof createEventMetrics>;
