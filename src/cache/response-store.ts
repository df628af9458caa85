import type { CacheEntityRecord } from '@envelop/response-cache';
import type { ExecutionResult } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { entityTag } from './response-tags.js';
import type { ReadPosition } from './store.js';

/** The rest of a lookup begun by `ResponseStore.begin`, at the request's read position. */
export type ResponseLookup = (read: ReadPosition) => Promise<ResponseHit | null>;

/** A whole query response as cached, for one viewer. */
export interface CachedResponse {
  /** The result as sent: data only (responses with errors are never cached). */
  result: ExecutionResult;
  /** Its strong validator, computed once when it was cached. */
  etag: string;
  /** The memories it retrieves: every hit counts them toward access frequency. */
  retrieved: string[];
}

export interface ResponseHit extends CachedResponse {
  /** Seconds it has left. */
  maxAgeSeconds: number;
}

/**
 * Recall's response cache. Invalidation is not part of it: writes reach it through the
 * invalidation log, in order and durably. A response is stored only if none of its tags was
 * invalidated after the read position its request began at, so a read that raced a write never
 * puts its older answer back.
 */
export interface ResponseStore {
  get(id: string, read: ReadPosition): Promise<ResponseHit | null>;
  /**
   * A lookup begun before its request's read position is known (the cached-hit front knows the
   * key once the caller is identified, and the position only when the budget's round trip
   * returns): what can be read without the position, a shared tier's copy, is asked for now,
   * alongside that round trip; the rest once the position is given. As fresh as `get` at that
   * position: a shared tier's copy is dropped before a write is acknowledged, and this read
   * begins after its request did.
   */
  begin(id: string): ResponseLookup;
  /** Resolves whether the response was stored. */
  set(id: string, response: CachedResponse, tags: readonly string[], ttlMs: number, read: ReadPosition): Promise<boolean>;
}

/**
 * The tags of a response: those of the entities it contains, each entity's own (`Memory:mem_1`)
 * and its type's (`Memory`), and those its request recorded (`dependsOn`: the lists it read).
 * A connection has no id, so the response cache never collects one as an entity: the only list
 * tags are the recorded ones, each naming the list's parent.
 */
export function tagsOf(entities: Iterable<CacheEntityRecord>, dependsOn: Iterable<string> = []): string[] {
  const tags = new Set<string>(dependsOn);
  for (const entity of entities) {
    if (entity.id !== undefined) tags.add(entityTag(entity.typename, entity.id));
    tags.add(entity.typename);
  }
  return [...tags];
}

const TAG_POSITIONS = 100_000;

/**
 * Responses kept in process: the whole response cache without Redis, or the L1 of hot responses
 * in front of it. Tag sets are dropped with their entries. The position of each tag's latest
 * invalidation is kept (bounded); once one is evicted, the floor remembers it and refuses what
 * any read that began before it tries to store.
 */
export function createMemoryResponseStore(options: { maxEntries: number; clock: Clock }) {
  const byTag = new Map<string, Set<string>>();
  let floor = 0;
  const positions = new LRUCache<string, number>({
    max: TAG_POSITIONS,
    dispose: (position, _tag, reason) => {
      if (reason !== 'set') floor = Math.max(floor, position);
    },
  });
  const entries = new LRUCache<string, { response: CachedResponse; tags: readonly string[]; expiresAt: number; reportedExpiresAt: number }>({
    max: options.maxEntries,
    dispose: (entry, id) => {
      for (const tag of entry.tags) {
        const ids = byTag.get(tag);
        ids?.delete(id);
        if (ids?.size === 0) byTag.delete(tag);
      }
    },
  });

  const now = () => options.clock.now().getTime();

  /** Keeps the response for `ttlMs` while reporting the expiry of the copy it came from. */
  function keep(id: string, response: CachedResponse, tags: readonly string[], ttlMs: number, reportedExpiresAt: number, read: ReadPosition): boolean {
    if (read.pos < floor || tags.some((tag) => (positions.get(tag) ?? 0) > read.pos)) return false;
    entries.set(id, { response, tags, expiresAt: now() + ttlMs, reportedExpiresAt });
    for (const tag of tags) {
      const ids = byTag.get(tag) ?? new Set<string>();
      ids.add(id);
      byTag.set(tag, ids);
    }
    return true;
  }

  async function get(id: string): Promise<ResponseHit | null> {
    const entry = entries.get(id);
    const at = now();
    if (!entry) return null;
    if (entry.expiresAt <= at) {
      entries.delete(id);
      return null;
    }
    return { ...entry.response, maxAgeSeconds: secondsLeft(entry.reportedExpiresAt, at) };
  }

  return {
    get,
    /** Nothing to ask ahead: the lookup is in process. */
    begin: (id: string): ResponseLookup => () => get(id),
    /** Whether it holds an entry for `id` (perhaps expired). */
    has: (id: string): boolean => entries.has(id),
    async set(id: string, response: CachedResponse, tags: readonly string[], ttlMs: number, read: ReadPosition): Promise<boolean> {
      return keep(id, response, tags, ttlMs, now() + ttlMs, read);
    },
    /** A copy of an entry another tier holds until `reportedExpiresAt`. */
    fill(id: string, response: CachedResponse, tags: readonly string[], ttlMs: number, reportedExpiresAt: number, read: ReadPosition): boolean {
      return keep(id, response, tags, ttlMs, reportedExpiresAt, read);
    },
    /** Drops the responses of these tags, invalidated at `position`, and refuses older ones from now on. */
    invalidate(tags: readonly string[], position: number): void {
      for (const tag of tags) {
        positions.set(tag, Math.max(position, positions.get(tag) ?? 0));
        for (const id of [...(byTag.get(tag) ?? [])]) entries.delete(id);
      }
    },
    /** Drops everything, refusing from now on what reads that began before `position` store. */
    reset(position: number): void {
      entries.clear();
      floor = Math.max(floor, position);
    },
  } satisfies ResponseStore & Record<string, unknown>;
}

export type MemoryResponseStore = ReturnType<typeof createMemoryResponseStore>;

export const secondsLeft = (expiresAt: number, now: number): number => Math.max(0, Math.floor((expiresAt - now) / 1000));
