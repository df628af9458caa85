import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Redis, Result } from 'ioredis';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import type { Database, Queryable } from '../db/database.js';
import {
  deleteChangesBefore,
  findPendingChanges,
  lockCacheLog,
  pendingAmong,
  setCacheLog,
  type PendingChange,
} from '../db/repositories/cache-outbox.js';
import type { Change } from '../domain/change.js';
import type { CacheMetrics } from './cache-metrics.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { Invalidation } from './invalidation.js';
import { InvalidationPending, type Applied, type InvalidationLog } from './invalidation-log.js';
import type { CacheKeys } from './keys.js';
import type { L1Follower } from './l1-follower.js';
import type { OutboxAcks } from './outbox-acks.js';
import { unlinkUnder } from './redis-client.js';
import type { ReadPosition } from './store.js';

const APPLY = readFileSync(new URL('./scripts/apply-invalidation-n.lua', import.meta.url), 'utf8');

declare module 'ioredis' {
  interface RedisCommander<Context> {
    applyInvalidation(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Result<number, Context>;
  }
}

/**
 * How long an invalidation's position is kept (for entities and response tags). Stores and
 * fills of reads that began before it are refused while it is kept; requests older than half of
 * it store nothing.
 */
export const POSITION_TTL_MS = 3_600_000;
/** How often waiting writers look again (one query for all of them), and Redis is probed. */
const POLL_MS = 250;
/** How often pending changes are looked at: those already pending at the previous look are replayed. */
const REPLAY_INTERVAL_MS = 1_000;
/** How often moot changes are dropped from the outbox. */
const GC_INTERVAL_MS = 60_000;
const REPLAY_BATCH = 200;
/** How far a new generation's positions start above the last acknowledged one. */
const GENERATION_GAP = 2 ** 32;

export interface RedisInvalidationLogOptions {
  /** The cache connection: no offline queue, a command timeout. */
  client: Redis;
  /** Where Redis listens, for the probe that tells a refused connection. */
  address: { host: string; port: number };
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
  /** How long a write waits for Redis to acknowledge its invalidation before it is answered 503. */
  writeWaitMs: number;
  probeIntervalMs: number;
  metrics: CacheMetrics;
  logger: Logger;
  clock: Clock;
}

/**
 * The invalidation log in Redis (`<prefix>log`: `gen` and `pos`), kept exact through faults.
 *
 * **Writes.** A writer applies its invalidation with one script (entities, response tags,
 * positions, and the message to every instance's L1, atomically) and replies once Redis has
 * acknowledged it. If Redis does not answer (frozen, or unreachable from this instance), the
 * writer waits: until its change is applied (by a retry, by this instance's sync, or by another
 * instance replaying the outbox), or until Redis refuses a connection after the commit (it is
 * down, so no instance can read it again before syncing, which replays the change), or until
 * the writer leaves. Past `writeWaitMs` it is answered that the write is saved but not yet
 * visible (`InvalidationPending`), never that it is.
 *
 * **Sync.** Before this instance uses Redis, at start-up and after any connection loss, failed
 * invalidation or change of generation, it syncs, holding the lock on `cache_log` throughout,
 * so that no acknowledgment is recorded meanwhile: it compares Redis's log with what PostgreSQL
 * recorded as acknowledged. A Redis of another generation, or behind the acknowledged position,
 * lost or rolled back data: a new generation starts, its cached data is dropped (SCAN +
 * UNLINK), and stores and fills carrying the old generation are refused from then on. Then every
 * pending change in the outbox is replayed, and only then is Redis used again.
 *
 * **Replay.** Every instance also replays changes left pending for over a second (a writer that
 * died between its commit and its invalidation, or one that cannot reach Redis), and drops
 * changes too old to matter.
 */
export function createRedisInvalidationLog(options: RedisInvalidationLogOptions): InvalidationLog & {
  /** Redis refused a store or fill of `generation`: if that is this instance's, sync before using Redis again. */
  generationChanged(generation: string): void;
  /** Redis's log went back in this generation (a failover the connections did not notice): sync. */
  regressed(): void;
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
  /** Connections to Redis refused so far (by this instance's client or its probe). */
  let refusals = 0;
  let closed = false;
  let syncing: Promise<void> | null = null;
  let syncLoop: Promise<void> | null = null;
  let probing = false;
  const wakers = new Set<() => void>();
  /** Writers waiting for their change to be applied, by outbox id: settled when the row is gone. */
  const waiting = new Map<number, () => void>();

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

  const refused = () => {
    refusals += 1;
    wake();
  };

  client.on('close', () => unsync('the connection closed'));
  client.on('ready', () => {
    ensureSynced();
    wake();
  });
  client.on('error', (error: NodeJS.ErrnoException) => {
    if (client.status !== 'ready' && error.code === 'ECONNREFUSED') refused();
  });

  /** A TCP connection attempt to Redis: refused means nothing listens there, for any instance. */
  function probe(): void {
    if (probing) return;
    probing = true;
    const socket = connect(options.address);
    const done = () => {
      probing = false;
      socket.destroy();
    };
    socket.setTimeout(POLL_MS, done);
    socket.once('connect', done);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      done();
      if (error.code === 'ECONNREFUSED') refused();
    });
  }

  /** The arguments of the apply script for an invalidation in `atGeneration`. */
  function applyArguments(invalidation: Invalidation, atGeneration: string): [number, ...Array<string | number>] {
    const { writes, tags, resetL1 } = invalidation;
    const message = JSON.stringify({ writes, tags, resetL1 });
    const entityKeys = writes.map((write) => write.key);
    return [
      1 + 2 * writes.length + 2 * tags.length,
      keys.log,
      ...entityKeys,
      ...entityKeys.map(keys.entityPosition),
      ...tags.map(keys.responseTag),
      ...tags.map(keys.responsePosition),
      atGeneration,
      writes.length,
      tags.length,
      keys.invalidationChannel,
      POSITION_TTL_MS,
      message,
      ...writes.flatMap((write) => [write.value, write.version, write.ttlMs]),
    ];
  }

  const failed = (operation: string, error: unknown) => {
    metrics.errors.inc({ tier: 'redis', operation });
    logger.debug({ err: error, operation }, 'redis invalidation failed');
    options.breaker().failure();
  };

  /** One attempt with this instance's generation: where it was applied, or null when it did not take. */
  async function tryApply(invalidation: Invalidation, outboxId: number): Promise<Applied | null> {
    const atGeneration = generation;
    if (atGeneration === null) return null;
    if (options.breaker().isOpen) {
      // Not even sent: this instance must replay it before it uses Redis again.
      unsync('an invalidation could not be sent');
      return null;
    }
    const stop = metrics.duration.startTimer({ tier: 'redis', operation: 'invalidate' });
    metrics.redisRoundTrips.inc();
    try {
      const position = Number(await client.applyInvalidation(...applyArguments(invalidation, atGeneration)));
      if (position < 0) {
        unsync('Redis is of another generation');
        return null;
      }
      options.breaker().success();
      options.applyLocally(invalidation, position);
      acks.ack(outboxId, atGeneration, position);
      return { position, generation: atGeneration };
    } catch (error) {
      failed('invalidate', error);
      unsync('an invalidation was not acknowledged');
      return null;
    } finally {
      stop();
    }
  }

  /** One query a poll for every waiting writer: the changes no longer pending were applied (by any instance). */
  let poller: NodeJS.Timeout | undefined;
  function pollPending(): void {
    if (poller || waiting.size === 0) return;
    poller = setTimeout(() => {
      poller = undefined;
      const ids = [...waiting.keys()];
      pendingAmong(db, ids).then(
        (pending) => {
          for (const id of ids) if (!pending.has(id)) waiting.get(id)?.();
        },
        (error: unknown) => logger.debug({ err: error }, 'could not look up pending invalidations; waiting on'),
      );
      pollPending();
    }, POLL_MS);
  }

  /** Waits until the change is applied by anyone, Redis is down for everyone, or the writer left. */
  async function settle(invalidation: Invalidation, outboxId: number, refusalsAtCommit: number, signal: AbortSignal | undefined): Promise<Applied | null> {
    const deadline = performance.now() + options.writeWaitMs;
    let appliedElsewhere = false;
    waiting.set(outboxId, () => {
      appliedElsewhere = true;
      wake();
    });
    signal?.addEventListener('abort', wake, { once: true });
    metrics.waitingWriters.inc();
    try {
      for (;;) {
        if (refusals > refusalsAtCommit || appliedElsewhere || closed || signal?.aborted) return null;
        if (performance.now() >= deadline) throw new InvalidationPending(outboxId);
        if (usable()) {
          const applied = await tryApply(invalidation, outboxId);
          if (applied) return applied;
        } else {
          pollPending();
          if (client.status !== 'ready') probe();
        }
        await nextChange(Math.min(POLL_MS, Math.max(1, deadline - performance.now())));
      }
    } finally {
      waiting.delete(outboxId);
      signal?.removeEventListener('abort', wake);
      metrics.waitingWriters.dec();
    }
  }

  /** Applies pending changes in `atGeneration`, in one pipeline. */
  async function applyRows(rows: readonly PendingChange[], atGeneration: string): Promise<void> {
    // A change this release cannot read stays for one that can (a rolling deploy).
    const readable = rows.flatMap((row) => (row.change ? [{ id: row.id, invalidation: options.invalidationOf(row.change) }] : []));
    if (readable.length < rows.length) logger.warn({ count: rows.length - readable.length }, 'skipping outbox changes this release cannot read');
    if (readable.length === 0) return;
    const pipeline = client.pipeline();
    for (const { invalidation } of readable) pipeline.applyInvalidation(...applyArguments(invalidation, atGeneration));
    metrics.redisRoundTrips.inc();
    const results = (await pipeline.exec()) ?? [];
    readable.forEach(({ id, invalidation }, index) => {
      const [error, reply] = results[index] ?? [new Error('no reply')];
      const position = Number(reply);
      if (error || !(position >= 0)) throw error ?? new Error('the generation changed during a replay');
      options.applyLocally(invalidation, position);
      acks.ack(id, atGeneration, position);
    });
    metrics.replayed.inc(readable.length);
  }

  /** Applies every pending change in `atGeneration`, oldest first. */
  async function replayAll(source: Queryable, atGeneration: string): Promise<number> {
    let afterId = 0;
    let replayed = 0;
    for (;;) {
      const rows = await findPendingChanges(source, { limit: REPLAY_BATCH, afterId });
      if (rows.length === 0) return replayed;
      afterId = rows.at(-1)!.id;
      await applyRows(rows, atGeneration);
      replayed += rows.length;
    }
  }

  /** The pending changes of the previous look. */
  let seenPending = new Set<number>();

  /**
   * Replays the changes that were already pending at the previous look (an interval ago): their
   * writer died, or cannot reach Redis, or gave up (without telling anyone the write was
   * visible). Younger ones are left to their writer, which applies them itself.
   */
  async function replayLeftovers(atGeneration: string): Promise<number> {
    const rows = await findPendingChanges(db, { limit: REPLAY_BATCH });
    const due = rows.filter((row) => seenPending.has(row.id));
    seenPending = new Set(rows.map((row) => row.id));
    await applyRows(due, atGeneration);
    return due.length;
  }

  /** Syncs; with `regenerate`, starts a new generation whatever Redis holds (an admin purge of everything). */
  async function doSync(regenerate = false): Promise<number> {
    // The lock is held until the replay is done: an acknowledgment recorded between the
    // comparison and the replay could delete a change this Redis has lost.
    const next = await db.transaction(async (tx) => {
      const recorded = await lockCacheLog(tx);
      const [found, foundPosition] = await client.hmget(keys.log, 'gen', 'pos');
      const position = Number(foundPosition ?? 0);
      let fresh: string | null = null;
      let dropped = 0;
      if (regenerate || !(found && found === recorded.generation && position >= recorded.ackedPosition)) {
        // This Redis lost or rolled back what it acknowledged, or never held Recall's data for
        // this database: start a new generation (the old one's stores and fills are refused from
        // here on), its positions far above what PostgreSQL recorded as acknowledged
        // (acknowledgments are written a few milliseconds late).
        fresh = randomBytes(8).toString('hex');
        const start = Math.max(position, recorded.ackedPosition) + GENERATION_GAP;
        logger.warn(
          { found: found ?? null, recorded: recorded.generation || null, position, acked: recorded.ackedPosition, regenerate },
          regenerate ? 'an admin purged everything: starting a new cache generation' : 'Redis is cold or lost data: starting a new cache generation',
        );
        await client.hset(keys.log, 'gen', fresh, 'pos', start);
        dropped = await unlinkUnder(client, keys.prefix, keys.isCacheData);
        await setCacheLog(tx, { generation: fresh, ackedPosition: start });
      }
      const at = fresh ?? found!;
      // The in-process tiers hold another generation's data: emptied when the follower starts again.
      if (at !== lastGeneration) follower.stop();
      const replayed = await replayAll(tx, at);
      if (replayed > 0) logger.info({ replayed }, 'replayed invalidations Redis had not acknowledged');
      return { generation: at, regenerated: fresh !== null, dropped };
    });
    metrics.syncs.inc();
    if (next.regenerated) metrics.generations.inc();
    lastGeneration = next.generation;
    generation = next.generation;
    void follower.start();
    wake();
    void acks.flush();
    return next.dropped;
  }

  function sync(): Promise<void> {
    syncing ??= doSync().then(() => undefined).finally(() => {
      syncing = null;
    });
    return syncing;
  }

  async function regenerate(): Promise<number> {
    // After any sync under way (its failure is its own callers' to handle): one at a time.
    while (syncing) await syncing.catch(() => undefined);
    const done = doSync(true);
    // Its failure is reported to its caller through `done`; later syncs start again.
    syncing = done.then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      syncing = null;
    });
    return done;
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
    replayLeftovers(generation!).then(
      (replayed) => replayed > 0 && logger.info({ replayed }, 'replayed invalidations left pending by their writer'),
      (error: unknown) => logger.debug({ err: error }, 'could not replay pending invalidations'),
    );
  }, REPLAY_INTERVAL_MS);
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
    async apply(invalidation, outboxId, signal) {
      // The write has committed: only a refusal from now on proves Redis unreadable for all.
      const refusalsAtCommit = refusals;
      return (await tryApply(invalidation, outboxId)) ?? settle(invalidation, outboxId, refusalsAtCommit, signal);
    },
    position: () => ({ gen: generation ?? '', pos: follower.appliedPosition(), exact: false }),
    observe(found, position): ReadPosition {
      // (A position below what the follower has applied proves nothing here: this reply and the
      // follower's messages come over different connections. The follower tells a log that
      // went back, see `regressed`.)
      if (generation !== null && found !== generation) unsync('Redis is of another generation');
      return { gen: found, pos: position, exact: true };
    },
    regressed: () => unsync("Redis's invalidation log went back"),
    inProcessFresh: (read) =>
      read.exact &&
      usable() &&
      read.gen === generation &&
      follower.isListening() &&
      follower.generation() === generation &&
      follower.appliedPosition() >= read.pos,
    usable,
    generationChanged(of) {
      // A straggling request from a generation this instance has already left tells nothing new.
      if (of === generation) unsync('Redis is of another generation');
    },
    generation: () => generation,
    sync,
    regenerate,
    async start() {
      ensureSynced();
    },
    flush: () => acks.flush(),
    async close() {
      closed = true;
      clearInterval(replayer);
      clearInterval(collector);
      clearTimeout(poller);
      wake();
      await acks.flush();
    },
  };
}
