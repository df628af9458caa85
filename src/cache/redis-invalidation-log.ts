import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Redis, Result } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Database } from '../db/database.js';
import {
  deleteChangesBefore,
  findPendingChanges,
  isChangePending,
  lockCacheLog,
  setCacheLog,
} from '../db/repositories/cache-outbox.js';
import type { Change } from '../domain/change.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { Invalidation } from './invalidation.js';
import type { InvalidationLog } from './invalidation-log.js';
import type { CacheKeys } from './keys.js';
import type { L1Follower } from './l1-follower.js';
import type { OutboxAcks } from './outbox-acks.js';
import type { ReadPosition } from './store.js';

const APPLY = readFileSync(new URL('./scripts/apply-invalidation-n.lua', import.meta.url), 'utf8');

declare module 'ioredis' {
  interface RedisCommander<Context> {
    applyInvalidation(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Result<number, Context>;
  }
}

/** How long a tag's invalidation position is kept; responses of requests older than half of it are not stored. */
export const RESPONSE_POSITION_TTL_MS = 3_600_000;
/** How often waiting writers look again, and pending changes are replayed. */
const POLL_MS = 250;
/** Changes younger than this are left to their writer, which applies them itself. */
const REPLAY_AFTER_MS = 1_000;
/** How often moot changes are dropped from the outbox. */
const GC_INTERVAL_MS = 60_000;
const REPLAY_BATCH = 200;
/** How far a new generation's positions start above the last acknowledged one. */
const GENERATION_GAP = 2 ** 32;

export interface RedisInvalidationLogOptions {
  /** The cache connection: no offline queue, a command timeout. */
  client: Redis;
  keys: CacheKeys;
  db: Database;
  acks: OutboxAcks;
  follower: L1Follower;
  breaker: () => CircuitBreaker;
  /** Applies an invalidation at `position` to this instance's in-process tiers. */
  applyLocally(invalidation: Invalidation, position: number): void;
  /** The invalidation of a recorded change (the same function the writer used). */
  invalidationOf(change: Change): Invalidation;
  /** Past this age a change is moot: every cache entry it could make stale has expired. */
  staleAfterMs: number;
  probeIntervalMs: number;
  metrics: CacheMetrics;
  logger: Logger;
  clock: Clock;
}

/**
 * The invalidation log in Redis (`<prefix>log`: `gen` and `pos`), kept exact through faults.
 *
 * **Writes.** A writer applies its invalidation with one script (entities, response tags, the
 * position, and the message to every instance's L1, atomically) and replies once Redis has
 * acknowledged it. If Redis does not answer (frozen, or unreachable from this instance only),
 * the writer waits: until its change is applied (by a retry, by this instance's sync, or by any
 * other instance replaying the outbox), or until Redis is known to be down (the connection is
 * refused), in which case no instance can read it again before syncing.
 *
 * **Sync.** Before this instance uses Redis, at start-up and after any connection loss, failed
 * invalidation or change of generation, it syncs: under a lock on `cache_log`, it compares
 * Redis's log with what PostgreSQL recorded as acknowledged. A Redis of another generation, or
 * behind the acknowledged position, lost or rolled back data: a new generation starts, its
 * cached data is dropped (SCAN + UNLINK), and stores and fills carrying the old generation are
 * refused from then on. Then every pending change in the outbox is replayed, and only then is
 * Redis used again.
 *
 * **Replay.** Every instance also replays changes left pending for over a second (a writer that
 * died between its commit and its invalidation), and drops changes too old to matter.
 */
export function createRedisInvalidationLog(options: RedisInvalidationLogOptions): InvalidationLog & {
  /** Redis reported another generation than this instance's: sync before using it again. */
  generationChanged(): void;
  /** The generation this instance synced with; null while it is not synced. */
  generation(): string | null;
  sync(): Promise<void>;
} {
  const { client, keys, db, acks, follower, metrics, logger } = options;
  client.defineCommand('applyInvalidation', { lua: APPLY });

  /** The generation this instance synced with; null until it has (and after any fault). */
  let generation: string | null = null;
  /** The generation its in-process tiers hold data of. */
  let lastGeneration: string | null = null;
  /** The connection was refused: Redis is down for every instance. */
  let down = false;
  let closed = false;
  let syncing: Promise<void> | null = null;
  let syncLoop: Promise<void> | null = null;
  const wakers = new Set<() => void>();

  const wake = () => {
    for (const resolve of [...wakers]) resolve();
  };
  /** Resolves on the next change of state, or after `ms`. */
  const nextChange = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakers.add(done);
    });

  const usable = () => generation !== null && !options.breaker().isOpen;

  function unsync(reason: string): void {
    if (generation !== null) logger.info({ reason }, 'stopped using Redis until it is synced with the outbox');
    generation = null;
    ensureSynced();
  }

  client.on('close', () => unsync('the connection closed'));
  client.on('ready', () => {
    down = false;
    ensureSynced();
    wake();
  });
  client.on('error', (error: NodeJS.ErrnoException) => {
    if (client.status === 'ready' || !isRefusal(error)) return;
    down = true;
    wake();
  });

  async function runApply(invalidation: Invalidation, atGeneration: string, pipeline?: ReturnType<Redis['pipeline']>) {
    const { writes, tags } = invalidation;
    const message = JSON.stringify({ writes, tags });
    const args: Array<string | number> = [
      1 + writes.length + 2 * tags.length,
      keys.log,
      ...writes.map((write) => write.key),
      ...tags.map(keys.responseTag),
      ...tags.map(keys.responsePosition),
      atGeneration,
      writes.length,
      tags.length,
      keys.invalidationChannel,
      RESPONSE_POSITION_TTL_MS,
      message,
      ...writes.flatMap((write) => [write.value, write.version, write.ttlMs]),
    ];
    if (pipeline) {
      pipeline.applyInvalidation(...(args as [number, ...Array<string | number>]));
      return 0;
    }
    metrics.redisRoundTrips.inc();
    return Number(await client.applyInvalidation(...(args as [number, ...Array<string | number>])));
  }

  const failed = (operation: string, error: unknown) => {
    metrics.errors.inc({ tier: 'redis', operation });
    logger.debug({ err: error, operation }, 'redis invalidation failed');
    options.breaker().failure();
  };

  /** One attempt with this instance's generation: the position, or null when it did not take. */
  async function tryApply(invalidation: Invalidation, outboxId: number): Promise<number | null> {
    const atGeneration = generation;
    if (atGeneration === null || options.breaker().isOpen) return null;
    const stop = metrics.duration.startTimer({ tier: 'redis', operation: 'invalidate' });
    try {
      const position = await runApply(invalidation, atGeneration);
      if (position < 0) {
        unsync('Redis is of another generation');
        return null;
      }
      options.breaker().success();
      options.applyLocally(invalidation, position);
      acks.ack(outboxId, atGeneration, position);
      return position;
    } catch (error) {
      failed('invalidate', error);
      unsync('an invalidation was not acknowledged');
      return null;
    } finally {
      stop();
    }
  }

  /** Waits until the change is applied by anyone, or Redis is down. */
  async function settle(invalidation: Invalidation, outboxId: number): Promise<number | null> {
    metrics.waitingWriters.inc();
    try {
      for (;;) {
        if (down || closed) return null;
        if (usable()) {
          const position = await tryApply(invalidation, outboxId);
          if (position !== null) return position;
        } else if (!(await stillPending(outboxId))) {
          // Another instance replayed it (and Redis acknowledged it) meanwhile.
          return null;
        }
        await nextChange(POLL_MS);
      }
    } finally {
      metrics.waitingWriters.dec();
    }
  }

  const stillPending = (outboxId: number) =>
    isChangePending(db, outboxId).catch((error: unknown) => {
      logger.debug({ err: error }, 'could not look up a pending invalidation; waiting on');
      return true;
    });

  async function flushCacheData(): Promise<void> {
    const stream = client.scanStream({ match: `${keys.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, count: 1000 });
    for await (const batch of stream as AsyncIterable<string[]>) {
      const doomed = batch.filter(keys.isCacheData);
      if (doomed.length > 0) await client.unlink(...doomed);
    }
  }

  /** Applies the pending changes recorded before `before` (all of them with null) in `atGeneration`. */
  async function replay(atGeneration: string, before: Date | null): Promise<number> {
    let afterId = 0;
    let replayed = 0;
    for (;;) {
      const rows = await findPendingChanges(db, { before, limit: REPLAY_BATCH, afterId });
      if (rows.length === 0) return replayed;
      afterId = rows.at(-1)!.id;
      // A change this release cannot read stays for one that can (a rolling deploy).
      const readable = rows.flatMap((row) => (row.change ? [{ id: row.id, invalidation: options.invalidationOf(row.change) }] : []));
      if (readable.length < rows.length) logger.warn({ count: rows.length - readable.length }, 'skipping outbox changes this release cannot read');
      const pipeline = client.pipeline();
      for (const { invalidation } of readable) await runApply(invalidation, atGeneration, pipeline);
      metrics.redisRoundTrips.inc();
      const results = (await pipeline.exec()) ?? [];
      readable.forEach(({ id, invalidation }, index) => {
        const [error, reply] = results[index] ?? [new Error('no reply')];
        const position = Number(reply);
        if (error || !(position >= 0)) throw error ?? new Error('the generation changed during a replay');
        options.applyLocally(invalidation, position);
        acks.ack(id, atGeneration, position);
      });
      replayed += readable.length;
      metrics.replayed.inc(readable.length);
    }
  }

  async function doSync(): Promise<void> {
    const next = await db.transaction(async (tx) => {
      const recorded = await lockCacheLog(tx);
      const [found, foundPosition] = await client.hmget(keys.log, 'gen', 'pos');
      const position = Number(foundPosition ?? 0);
      if (found && found === recorded.generation && position >= recorded.ackedPosition) return { generation: found, start: null };
      // This Redis lost or rolled back what it acknowledged, or never held Recall's data for this
      // database: start a new generation (the old one's stores and fills are refused from here on).
      // Its positions start above any an instance may have seen: far above what PostgreSQL
      // recorded as acknowledged (acknowledgments are written a few milliseconds late).
      const fresh = randomBytes(8).toString('hex');
      const start = Math.max(position, recorded.ackedPosition) + GENERATION_GAP;
      logger.warn({ found: found ?? null, recorded: recorded.generation || null, position, acked: recorded.ackedPosition }, 'Redis is cold or lost data: starting a new cache generation');
      await client.hset(keys.log, 'gen', fresh, 'pos', start);
      await flushCacheData();
      await setCacheLog(tx, { generation: fresh, ackedPosition: start });
      return { generation: fresh, start };
    });
    if (next.start !== null) metrics.generations.inc();
    // The in-process tiers hold another generation's data (this instance, or another, started a
    // new one): they are emptied when the follower starts again, below.
    if (next.generation !== lastGeneration) follower.stop();
    lastGeneration = next.generation;
    const replayed = await replay(next.generation, null);
    if (replayed > 0) logger.info({ replayed }, 'replayed invalidations Redis had not acknowledged');
    await acks.flush();
    generation = next.generation;
    void follower.start();
    wake();
  }

  function sync(): Promise<void> {
    syncing ??= doSync().finally(() => {
      syncing = null;
    });
    return syncing;
  }

  /** Syncs as soon as Redis answers, retrying until it has. */
  function ensureSynced(): void {
    syncLoop ??= (async () => {
      while (generation === null && !closed) {
        if (client.status === 'ready') {
          try {
            await sync();
            break;
          } catch (error) {
            logger.debug({ err: error }, 'could not sync with Redis; retrying');
          }
        }
        await nextChange(options.probeIntervalMs);
      }
      syncLoop = null;
    })();
  }

  const replayer = setInterval(() => {
    if (!usable() || syncing) return;
    // In case its last start failed (Redis did not answer then).
    void follower.start();
    const atGeneration = generation!;
    replay(atGeneration, new Date(options.clock.now().getTime() - REPLAY_AFTER_MS)).then(
      (replayed) => replayed > 0 && logger.info({ replayed }, 'replayed invalidations left pending by their writer'),
      (error: unknown) => logger.debug({ err: error }, 'could not replay pending invalidations'),
    );
  }, POLL_MS * 4);
  replayer.unref();
  const collector = setInterval(() => {
    deleteChangesBefore(db, new Date(options.clock.now().getTime() - options.staleAfterMs)).then(
      (dropped) => dropped > 0 && logger.warn({ dropped }, 'dropped outbox changes too old to matter'),
      (error: unknown) => logger.debug({ err: error }, 'could not drop old outbox changes'),
    );
  }, GC_INTERVAL_MS);
  collector.unref();

  return {
    mode: 'redis',
    async apply(invalidation, outboxId) {
      return (await tryApply(invalidation, outboxId)) ?? settle(invalidation, outboxId);
    },
    position: () => ({ gen: generation ?? '', pos: follower.appliedPosition(), exact: false }),
    observe(found, position): ReadPosition {
      if (generation !== null && found !== generation) unsync('Redis is of another generation');
      return { gen: found, pos: position, exact: true };
    },
    inProcessFresh: (read) =>
      read.exact &&
      usable() &&
      read.gen === generation &&
      follower.isListening() &&
      follower.generation() === generation &&
      follower.appliedPosition() >= read.pos,
    usable,
    generationChanged: () => unsync('Redis is of another generation'),
    generation: () => generation,
    sync,
    async start() {
      ensureSynced();
    },
    flush: () => acks.flush(),
    async close() {
      closed = true;
      clearInterval(replayer);
      clearInterval(collector);
      wake();
      await acks.flush();
    },
  };
}

/** A refused connection: nothing listens there, so no instance can read this Redis either. */
function isRefusal(error: NodeJS.ErrnoException): boolean {
  return error.code === 'ECONNREFUSED' || /^(NOAUTH|WRONGPASS)/.test(error.message);
}
