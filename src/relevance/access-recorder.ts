import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import { addMemoryAccess, type AccessCount } from '../db/repositories/relevance.js';

/** Counts kept while PostgreSQL cannot take them; past this, new retrievals are not counted. */
const MAX_PENDING = 100_000;

/**
 * Counts retrievals in memory and adds them to PostgreSQL in one statement per interval, so
 * that reads, which are mostly answered from the cache, do not each pay a write. Counts only
 * rank results: a crash loses at most one interval of them; a database outage keeps them
 * (bounded) until it is over.
 */
export function createAccessRecorder(options: { db: Database; clock: Clock; logger: Logger; flushIntervalMs: number }) {
  let pending = new Map<string, AccessCount>();
  let flushing: Promise<void> = Promise.resolve();

  const add = (userId: string, memoryId: string, count: number) => {
    const key = `${userId} ${memoryId}`;
    const known = pending.get(key);
    if (known) known.count += count;
    else if (pending.size < MAX_PENDING) pending.set(key, { userId, memoryId, count });
  };

  const flushNow = async () => {
    if (pending.size === 0) return;
    const batch = [...pending.values()];
    pending = new Map();
    try {
      await addMemoryAccess(options.db, batch, options.clock.now());
    } catch (error) {
      options.logger.warn({ err: error, count: batch.length }, 'could not record memory access; keeping the counts');
      for (const entry of batch) add(entry.userId, entry.memoryId, entry.count);
    }
  };

  /** Flushes one after another, never two at once. */
  const flush = () => (flushing = flushing.then(flushNow));

  const timer = setInterval(() => void flush(), options.flushIntervalMs);
  timer.unref();

  return {
    record(userId: string, memoryIds: readonly string[]) {
      for (const memoryId of memoryIds) add(userId, memoryId, 1);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

export type AccessRecorder = ReturnType<typeof createAccessRecorder>;
