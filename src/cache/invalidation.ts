import type { Change, L1Part } from '../domain/change.js';
import { encodeEnvelope } from './envelope.js';
import { contextListTag, entityTag, memoryListTag, memorySearchTag, viewerTag } from './response-tags.js';
import type { CacheKeys } from './keys.js';
import type { CacheWrite } from './store.js';

/**
 * How long a tombstone outlives the write that left it. It only has to outlast readers that
 * fetched the old row before the write committed; a PostgreSQL statement is cut off after
 * DATABASE_STATEMENT_TIMEOUT_MS, far sooner.
 */
export const TOMBSTONE_TTL_MS = 60_000;

/** What a write makes stale: entity entries to supersede, and tags of the cached responses to drop. */
export interface Invalidation {
  /** Version-guarded writes: tombstones, "not found" for what is gone, or new values written through. */
  writes: CacheWrite[];
  /** Response tags (`Memory:mem_1`, `MemoryConnection:ctx_1`, or a whole type such as `RelevanceScore`). */
  tags: string[];
  /** In-process tiers to empty on every instance (an admin purge of a kind or of everything). */
  resetL1?: L1Part[];
}

/** The entity was written at `version`: drop cached copies and keep older ones from coming back. */
export function stale(key: string, version: number, now: Date): CacheWrite {
  return { key, value: encodeEnvelope({ state: 't', version, writtenAt: now.getTime(), value: null }), version, ttlMs: TOMBSTONE_TTL_MS };
}

/** The entity is gone for good as of `version`: answer "not found" from the cache. */
export function gone(key: string, version: number, now: Date, ttlMs = TOMBSTONE_TTL_MS): CacheWrite {
  return { key, value: encodeEnvelope({ state: 'n', version, writtenAt: now.getTime(), value: null }), version, ttlMs };
}

/**
 * The invalidation of a change: the same for the writer, right after its commit, and for any
 * instance that replays it from the outbox. Lists and searches are tagged with their context
 * and the list of contexts with its owner (see response-tags.ts), so a write reaches exactly the
 * responses that show it. A score against
 * a context depends on its name and description and carries no context id of its own, so a
 * context edit drops every cached score (context edits are rare).
 */
export function invalidationOf(change: Change, keys: CacheKeys, now: Date, sessionTtlMs: number, apiKeyTtlMs: number): Invalidation {
  const writes: CacheWrite[] = [];
  const tags: string[] = [];
  const entity = (key: string, version: number, isGone: boolean) => writes.push(isGone ? gone(key, version, now) : stale(key, version, now));
  const memoryLists = () => {
    if (change.contextId) tags.push(memoryListTag(change.contextId), memorySearchTag(change.contextId));
    // The context's cached row carries the list sequence its cached pages are found by.
    if (change.list) entity(keys.context(change.list.id), change.list.version, false);
  };
  const memories = () => {
    for (const memory of change.memories) {
      entity(keys.memory(memory.id), memory.version, memory.gone);
      tags.push(entityTag('Memory', memory.id));
    }
  };
  const context = (withContents: boolean) => {
    if (!change.context) return;
    entity(keys.context(change.context.id), change.context.version, change.context.gone);
    tags.push(entityTag('Context', change.context.id), contextListTag(change.ownerId), 'RelevanceScore');
    if (withContents) {
      memories();
      memoryLists();
    }
  };

  const endedCredentials = () => {
    // The highest version there is: no copy of a session or key read before its end comes back.
    for (const session of change.sessions) writes.push(gone(keys.session(session.tokenHash), Number.MAX_SAFE_INTEGER, now, sessionTtlMs));
    for (const apiKey of change.apiKeys) writes.push(gone(keys.apiKey(apiKey.secretHash), Number.MAX_SAFE_INTEGER, now, apiKeyTtlMs));
  };

  /** Cached sessions and keys carry their user's row: drop them, without ending them. */
  const droppedCredentials = () => {
    for (const session of change.sessions) writes.push(stale(keys.session(session.tokenHash), Number.MAX_SAFE_INTEGER, now));
    for (const apiKey of change.apiKeys) writes.push(stale(keys.apiKey(apiKey.secretHash), Number.MAX_SAFE_INTEGER, now));
  };

  switch (change.reason) {
    case 'MEMORIES_ADDED':
      // New ids: nothing cached under them yet, only the lists they join.
      memoryLists();
      break;
    case 'MEMORY_UPDATED':
    case 'MEMORY_DELETED':
      memories();
      memoryLists();
      break;
    case 'CONTEXT_CREATED':
      tags.push(contextListTag(change.ownerId));
      break;
    case 'CONTEXT_UPDATED':
      context(false);
      break;
    case 'CONTEXT_DELETED':
      context(true);
      break;
    case 'SESSION_ENDED':
    case 'API_KEY_REVOKED':
      endedCredentials();
      break;
    case 'USER_UPDATED':
      droppedCredentials();
      if (change.user) entity(keys.user(change.user.id), change.user.version, false);
      tags.push(entityTag('User', change.ownerId));
      break;
    case 'USER_DELETED':
      endedCredentials();
      if (change.user) entity(keys.user(change.user.id), change.user.version, true);
      tags.push(entityTag('User', change.ownerId), contextListTag(change.ownerId));
      break;
    case 'ADMIN_PURGE':
      // Nothing was written: tombstones at the versions the database holds drop every cached
      // copy, and the next read fills them again (an equal version replaces a tombstone).
      memories();
      for (const { id, version } of [...(change.context ? [change.context] : []), ...change.contexts]) {
        entity(keys.context(id), version, false);
        tags.push(entityTag('Context', id), memoryListTag(id), memorySearchTag(id), contextListTag(change.ownerId));
      }
      if (change.user) {
        entity(keys.user(change.user.id), change.user.version, false);
        tags.push(entityTag('User', change.user.id), viewerTag(change.user.id), contextListTag(change.user.id));
      }
      droppedCredentials();
      return { writes, tags: [...new Set(tags)], resetL1: change.resetL1 };
  }
  return { writes, tags };
}

/** The same invalidation, with values written through in place of tombstones of the same keys. */
export function withWriteThrough(invalidation: Invalidation, values: readonly CacheWrite[]): Invalidation {
  if (values.length === 0) return invalidation;
  const byKey = new Map(values.map((write) => [write.key, write]));
  return { ...invalidation, writes: invalidation.writes.map((write) => byKey.get(write.key) ?? write) };
}
