import type { Invalidation } from './invalidation.js';
import type { MemoryStore } from './memory-store.js';
import type { OutboxAcks } from './outbox-acks.js';
import type { MemoryResponseStore } from './response-store.js';
import type { ReadPosition } from './store.js';

/**
 * The invalidation log: every committed write's invalidation gets the next position, and every
 * read carries the position the log had when its request was admitted. Positions make the
 * cache exact without time windows:
 *
 * - a response or a value read before an invalidation is refused when it comes to be stored
 *   after it (the stores compare positions, and versions);
 * - an in-process tier answers a read only once it has applied the log up to the read's
 *   position, so a read that starts after a write was acknowledged, on any instance, sees it;
 * - a load in flight is shared only with reads that began no later than it did.
 *
 * Durability comes from the outbox in PostgreSQL (`cache_outbox`): a write records its change
 * in the same statement, and the row is deleted only once Redis has acknowledged the
 * invalidation. See redis-invalidation-log.ts for faults, replay and generations.
 */
/** Where an invalidation was applied: its log position, in the generation it belongs to. */
export interface Applied {
  position: number;
  generation: string;
}

/**
 * A write's invalidation was not acknowledged in time: Redis neither answered nor refused
 * connections. The write is committed and its invalidation recorded; it reaches the caches when
 * Redis answers. The writer must not be told the write is visible.
 */
export class InvalidationPending extends Error {
  constructor(readonly outboxId: number) {
    super('The cache did not acknowledge the invalidation of a committed write in time.');
    this.name = 'InvalidationPending';
  }
}

export interface InvalidationLog {
  readonly mode: 'redis' | 'memory';
  /**
   * Applies a committed write's invalidation (its outbox row `outboxId`) to every tier and every
   * instance. Resolves once it is safe to reply to the writer: applied and acknowledged (with
   * where), or, with null, once no instance can read Redis before replaying the outbox (Redis
   * refused a connection after the commit), or the writer left (`signal`). Throws
   * `InvalidationPending` when neither happens within the write's wait.
   */
  apply(invalidation: Invalidation, outboxId: number, signal?: AbortSignal): Promise<Applied | null>;
  /** This instance's own view of the log, for reads that were not admitted through Redis. */
  position(): ReadPosition;
  /** The log as the admission round trip found it: the read position of that request. */
  observe(generation: string, position: number): ReadPosition;
  /** Whether the in-process tier may answer a read of this position. */
  inProcessFresh(read: ReadPosition): boolean;
  /** Whether Redis may be read and written: reachable, and synced with the outbox. */
  usable(): boolean;
  /**
   * Drops every cached entry of this deployment, on every instance, as a cold start does: a new
   * generation, whose reads and stores refuse the old one's (an admin purge of everything).
   * Resolves with how many Redis keys were dropped (0 in process).
   */
  regenerate(): Promise<number>;
  /** Settles what an earlier process left in the outbox; call once, at start-up. */
  start(): Promise<void>;
  /** Deletes the outbox rows acknowledged so far, which are otherwise deleted in batches, shortly. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** The generation of the in-process cache: it lives and dies with the process. */
const LOCAL_GENERATION = 'local';

/**
 * The log of the in-process cache (no Redis): one instance, so applying an invalidation is
 * immediate and every read is fresh. Rows an earlier process left in the outbox concern a cache
 * that died with it.
 */
export function createLocalInvalidationLog(options: {
  store: MemoryStore;
  responses: MemoryResponseStore;
  acks: OutboxAcks;
  /** Deletes every outbox row (at start-up). */
  discardOutbox(): Promise<void>;
}): InvalidationLog {
  let position = 0;
  const current = (): ReadPosition => ({ gen: LOCAL_GENERATION, pos: position, exact: true });
  return {
    mode: 'memory',
    async apply(invalidation, outboxId) {
      position += 1;
      if (invalidation.resetL1?.includes('entities')) options.store.reset(position);
      if (invalidation.resetL1?.includes('responses')) options.responses.reset(position);
      options.store.invalidate(invalidation.writes, position);
      options.responses.invalidate(invalidation.tags, position);
      options.acks.ack(outboxId, null, position);
      return { position, generation: LOCAL_GENERATION };
    },
    position: current,
    observe: () => current(),
    inProcessFresh: () => true,
    usable: () => true,
    async regenerate() {
      position += 1;
      options.store.reset(position);
      options.responses.reset(position);
      return 0;
    },
    start: () => options.discardOutbox(),
    flush: () => options.acks.flush(),
    close: () => options.acks.flush(),
  };
}

/**
 * Loads in flight in this process, by cache key, so that concurrent misses of one key share one
 * load; a read joins only a load that began at or after its own read position (one that began
 * earlier may have read the source before a write the joiner must see).
 */
export function createInflightLoads() {
  const loads = new Map<string, { promise: Promise<unknown>; position: number }>();
  const joinPosition = (read: ReadPosition) => (read.exact ? read.pos : Infinity);
  return {
    join(key: string, read: ReadPosition): Promise<unknown> | undefined {
      const load = loads.get(key);
      return load && load.position >= joinPosition(read) ? load.promise : undefined;
    },
    start(key: string, promise: Promise<unknown>, read: ReadPosition): void {
      loads.set(key, { promise, position: read.pos });
    },
    finish(key: string, promise: Promise<unknown>): void {
      if (loads.get(key)?.promise === promise) loads.delete(key);
    },
    clear(): void {
      loads.clear();
    },
  };
}

export type InflightLoads = ReturnType<typeof createInflightLoads>;
