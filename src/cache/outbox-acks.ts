import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { deleteAcknowledgedChanges } from '../db/repositories/cache-outbox.js';

/** How long acknowledgments gather before one statement deletes them. */
const BATCH_MS = 20;

/**
 * Deletes outbox rows once Redis has acknowledged their invalidation, in batches (one statement
 * per batch, not per write). Nothing waits for it: a row deleted late is only replayed once more,
 * which changes nothing. In Redis mode each batch also raises the acknowledged position of the
 * generation it was applied in (see `deleteAcknowledgedChanges`).
 */
export function createOutboxAcks(options: { db: Database; logger: Logger }) {
  let batch = new Map<string, { ids: number[]; generation: string | null; position: number }>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();

  const flushNow = async () => {
    const batches = [...batch.values()];
    batch = new Map();
    for (const { ids, generation, position } of batches) {
      try {
        await deleteAcknowledgedChanges(options.db, ids, generation === null ? null : { generation, position });
      } catch (error) {
        // The rows stay: they are replayed once more, later.
        options.logger.warn({ err: error, count: ids.length }, 'could not delete acknowledged invalidations');
      }
    }
  };

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    flushing = flushing.then(flushNow);
    return flushing;
  };

  return {
    /** Redis acknowledged row `id` at `position` of `generation` (null: no Redis, nothing to record). */
    ack(id: number, generation: string | null, position: number): void {
      const key = generation ?? '';
      const entry = batch.get(key) ?? { ids: [], generation, position: 0 };
      entry.ids.push(id);
      entry.position = Math.max(entry.position, position);
      batch.set(key, entry);
      timer ??= setTimeout(() => void flush(), BATCH_MS);
    },
    flush,
  };
}

export type OutboxAcks = ReturnType<typeof createOutboxAcks>;
