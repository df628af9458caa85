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
  // User → memory → count: a hit adds to counts without building a key per memory.
  let pending = new Map<string, Map<string, number>>();
  let size = 0;
  let flushing: Promise<void> = Promise.resolve();

  const add = (userId: string, memoryId: string, count: number) => {
    const counts = pending.get(userId);
    const known = counts?.get(memoryId);
    if (known !== undefined) counts!.set(memoryId, known + count);
    else if (size < MAX_PENDING) {
      if (counts) counts.set(memoryId, count);
      else pending.set(userId, new Map([[memoryId, count]]));
      size += 1;
    }
  };

  const flushNow = async () => {
    if (size === 0) return;
    const batch: AccessCount[] = [];
    for (const [userId, counts] of pending) for (const [memoryId, count] of counts) batch.push({ userId, memoryId, count });
    pending = new Map();
    size = 0;
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
