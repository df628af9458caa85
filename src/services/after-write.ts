import { withWriteThrough } from '../cache/invalidation.js';
import { InvalidationPending, type Applied } from '../cache/invalidation-log.js';
import type { CacheWrite } from '../cache/store.js';
import type { AppDeps } from '../app-deps.js';
import type { ContextRow, MemoryEventRow, MemoryRow } from '../db/rows.js';
import type { RecordedChange } from '../domain/change.js';
import { clientError } from '../errors.js';
import type { RequestScope } from '../request-scope.js';
import { changeEvents } from './change-events.js';

/** A committed write, as every mutation hands it to `afterWrite`. */
export interface Written extends RecordedChange {
  /** New values to write through in place of tombstones of the same keys (the next read is then a hit). */
  writeThrough?: CacheWrite[];
  /** The history events the write recorded, for memoryEvents subscribers. */
  history?: MemoryEventRow[];
  /** Rows the rest of the request should read as written. */
  prime?: { memories?: MemoryRow[]; context?: ContextRow };
}

/**
 * The steps after every write, all before it replies:
 * 1. the request's loaders forget what the write changed;
 * 2. its invalidation (entity keys and response tags) is applied to every tier on every instance,
 *    and acknowledged; the outbox row written with the change makes this durable, so a fault
 *    here delays the reply (see the invalidation log) but loses nothing;
 * 3. the rest of the request reads at least at the write's log position;
 * 4. subscribers on every instance are told, after the caches;
 * 5. the loaders are primed with the written rows.
 */
export async function afterWrite(scope: RequestScope, written: Written): Promise<void> {
  const { change } = written;
  const { loaders } = scope;
  if (change.context) loaders.forgetContext(change.context.id);
  if (change.list) loaders.forgetContext(change.list.id);
  for (const memory of change.memories) loaders.forgetMemory(memory.id);

  const applied = await applyChange(scope.deps, written, scope.signal);
  if (applied && (applied.generation !== scope.read.gen || applied.position > scope.read.pos)) {
    scope.read = { ...scope.read, gen: applied.generation, pos: applied.position };
  }

  for (const memory of written.prime?.memories ?? []) loaders.memory.prime(memory.id, memory);
  if (written.prime?.context) loaders.context.prime(written.prime.context.id, written.prime.context);
}

/**
 * Steps 2 and 4 of `afterWrite`, for any recorded change (a write's, or an admin purge's, which
 * has no request of its own in the CLI): applies its invalidation everywhere, then tells
 * subscribers. Throws CACHE_UNAVAILABLE when the cache did not confirm it in time.
 */
export async function applyChange(
  deps: Pick<AppDeps, 'cache' | 'events' | 'clock'>,
  written: Pick<Written, 'change' | 'outboxId' | 'writeThrough' | 'history'>,
  signal?: AbortSignal,
): Promise<Applied | null> {
  const { change } = written;
  const { cache, events, clock } = deps;
  let applied: Applied | null = null;
  let pending = false;
  try {
    applied = await cache.log.apply(withWriteThrough(cache.invalidationOf(change), written.writeThrough ?? []), written.outboxId, signal);
  } catch (error) {
    if (!(error instanceof InvalidationPending)) throw error;
    pending = true;
  }
  if (applied) cache.metrics.invalidations.inc({ reason: change.reason });

  const position = applied?.position ?? null;
  await events.bus.publish(changeEvents(change, written.history ?? [], { position, occurredAt: clock.now(), source: events.bus.source }));
  if (pending) {
    // Saved, but not yet visible to every reader: the write must not be reported as done.
    throw clientError(
      'CACHE_UNAVAILABLE',
      'The write was saved, but the cache did not confirm it in time, so other readers may not see it yet. It will reach them as soon as the cache answers; read it back to check.',
      { committed: true },
    );
  }
  return applied;
}
