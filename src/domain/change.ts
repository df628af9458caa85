/** What kind of write it was: also the `reason` of its `cacheInvalidated` event. */
export const CHANGE_REASONS = [
  'MEMORIES_ADDED',
  'MEMORY_UPDATED',
  'MEMORY_DELETED',
  'CONTEXT_CREATED',
  'CONTEXT_UPDATED',
  'CONTEXT_DELETED',
  'SESSION_ENDED',
  'USER_UPDATED',
  'USER_DELETED',
  'API_KEY_REVOKED',
  /** An admin purged cached data (purgeCache, or the CLI's purge): no data changed. */
  'ADMIN_PURGE',
] as const;

export type ChangeReason = (typeof CHANGE_REASONS)[number];

/**
 * An entity at the version a cache must not fall behind: its new version after an update, or
 * one past its last version when it is gone.
 */
export interface ChangedEntity {
  id: string;
  version: number;
  gone: boolean;
}

export interface EndedSession {
  id: string;
  tokenHash: string;
}

/**
 * What a committed write changed, in the model's terms. Every write records one, in the same
 * statement, in the `cache_outbox` table; the caches are invalidated from it (live after the
 * write, or replayed later by any instance), and the `cacheInvalidated` event names its entities.
 */
export interface Change {
  reason: ChangeReason;
  /** Whose data changed: events go to this user (and to admins). */
  ownerId: string;
  contextId: string | null;
  memories: ChangedEntity[];
  context: ChangedEntity | null;
  /**
   * The context whose list sequence a write to its memories raised, at its new cache version
   * (see `contextCacheVersion`): its cached row is superseded, and with it every cached page of
   * its memories, which are keyed by the sequence.
   */
  list: ChangedEntity | null;
  /** Sessions that ended, by the hash of their tokens (the keys they are cached under). */
  sessions: EndedSession[];
  /** The user, when the change wrote (USER_UPDATED) or removed (USER_DELETED) their row. */
  user: ChangedEntity | null;
  /** API keys that stopped working, by the hash of their token (the key each is cached under). */
  apiKeys: Array<{ id: string; secretHash: string }>;
  /** Further contexts (an admin purge of a user's data names all of theirs). */
  contexts: ChangedEntity[];
  /** In-process tiers every instance empties (an admin purge of a kind, or of everything). */
  resetL1: L1Part[];
}

/** The in-process tiers: entities, and whole responses. */
export type L1Part = 'entities' | 'responses';

/** A write's change and its row in the outbox, as the repositories return them. */
export interface RecordedChange {
  change: Change;
  outboxId: number;
}
