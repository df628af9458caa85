import type { Cache as ResponseCache, CacheEntityRecord } from '@envelop/response-cache';
import type { ExecutionResult } from 'graphql';
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';

export type { CacheEntityRecord };

/** Recall's response-cache store: envelop's three-method contract, invalidation awaited. */
export interface ResponseStore extends ResponseCache {
  get(id: string): Promise<ExecutionResult | null>;
  set(id: string, data: ExecutionResult, entities: Iterable<CacheEntityRecord>, ttl: number): Promise<void>;
  invalidate(entities: Iterable<CacheEntityRecord>): Promise<void>;
  clear(): Promise<void>;
}

/** The tags of an entity: its own (`Memory:mem_1`) and its type's (`Memory`). */
export function tagsOf(entity: CacheEntityRecord): string[] {
  return entity.id === undefined ? [entity.typename] : [`${entity.typename}:${entity.id}`, entity.typename];
}

/** `Cache-Control` for a cached response, with the time it has left. */
export function withRemainingMaxAge(result: ExecutionResult, expiresAt: number, now: number): ExecutionResult {
  const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000));
  const extensions = (result.extensions ?? {}) as { http?: { headers?: Record<string, string> } };
  return {
    ...result,
    extensions: {
      ...extensions,
      http: { ...extensions.http, headers: { ...extensions.http?.headers, 'Cache-Control': `private, max-age=${maxAge}` } },
    },
  };
}

/**
 * A response computed while one of its entities was being written may hold the old state, and
 * its set() can arrive after the write's invalidation. So an entity written less than
 * `quietMs` ago (longer than a query may run) keeps responses that contain it out of the cache.
 */
export interface ResponseStoreOptions {
  quietMs: number;
  clock: Clock;
}

/** A response store that can also hold a copy of an entry whose lifetime another tier decides. */
export interface MemoryResponseStore extends ResponseStore {
  /**
   * Keeps `data` for `ttl` ms while reporting, in Cache-Control, the expiry of the copy it came
   * from; refused like set() when one of the entities was written in the quiet window.
   */
  fill(id: string, data: ExecutionResult, entities: Iterable<CacheEntityRecord>, ttl: number, expiresAt: number): void;
}

/** Responses kept in process, bounded, with tag sets that are dropped with their entries. */
export function createMemoryResponseStore(options: ResponseStoreOptions & { maxEntries: number }): MemoryResponseStore {
  const byTag = new Map<string, Set<string>>();
  const writtenAt = new LRUCache<string, number>({ max: 100_000 });
  const entries = new LRUCache<string, { result: ExecutionResult; tags: string[]; expiresAt: number; reportedExpiresAt: number }>({
    max: options.maxEntries,
    dispose: (entry, key) => {
      for (const tag of entry.tags) {
        const keys = byTag.get(tag);
        keys?.delete(key);
        if (keys?.size === 0) byTag.delete(tag);
      }
    },
  });
  function keep(id: string, data: ExecutionResult, entities: Iterable<CacheEntityRecord>, expiresAt: number, reportedExpiresAt: number) {
    const tags = [...new Set([...entities].flatMap(tagsOf))];
    const since = options.clock.now().getTime() - options.quietMs;
    if (tags.some((tag) => (writtenAt.get(tag) ?? -Infinity) > since)) return;
    entries.set(id, { result: data, tags, expiresAt, reportedExpiresAt });
    for (const tag of tags) {
      const keys = byTag.get(tag) ?? new Set<string>();
      keys.add(id);
      byTag.set(tag, keys);
    }
  }

  return {
    async get(id) {
      const entry = entries.get(id);
      const now = options.clock.now().getTime();
      if (!entry) return null;
      if (entry.expiresAt <= now) {
        entries.delete(id);
        return null;
      }
      return withRemainingMaxAge(entry.result, entry.reportedExpiresAt, now);
    },
    async set(id, data, entities, ttl) {
      const expiresAt = options.clock.now().getTime() + ttl;
      keep(id, data, entities, expiresAt, expiresAt);
    },
    fill(id, data, entities, ttl, reportedExpiresAt) {
      keep(id, data, entities, options.clock.now().getTime() + ttl, reportedExpiresAt);
    },
    async invalidate(entities) {
      const now = options.clock.now().getTime();
      for (const entity of entities) {
        const tag = tagsOf(entity)[0]!;
        writtenAt.set(tag, now);
        for (const key of [...(byTag.get(tag) ?? [])]) entries.delete(key);
      }
    },
    async clear() {
      entries.clear();
    },
  };
}
