import { collectDefaultMetrics, type Registry } from 'prom-client';

const observed = new WeakSet<Registry>();

/**
 * prom-client's process metrics (CPU, memory, event-loop lag, GC, handles) on `registry`, once:
 * registering them twice on one registry throws, and several apps may share one (in tests).
 */
export function observeProcess(registry: Registry): void {
  if (observed.has(registry)) return;
  observed.add(registry);
  collectDefaultMetrics({ register: registry });
}
