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
      help: 'Open GraphQL subscriptions on this instance, by field.',
      labelNames: ['field'] as const,
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
