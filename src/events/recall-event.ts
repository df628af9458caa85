import type { MemoryEventRow } from '../db/rows.js';

/** A changed entity, as clients name it in their own caches (`typename:id`). */
export interface EntityRef {
  typename: string;
  /** null: every entity of the type. */
  id: string | null;
}

export interface Invalidation {
  entities: EntityRef[];
  /** What happened, e.g. MEMORIES_ADDED; RESYNC means "drop everything", see subscriptions. */
  reason: string;
  occurredAt: Date;
  /** The instance that made the change. */
  source: string;
}

/**
 * What a write publishes; every event belongs to the user who owns what changed, and carries
 * the invalidation log position of its write (null when Redis was down), so that a subscriber
 * on any instance resolves it at least at that position.
 */
export type RecallEventBody =
  | { kind: 'invalidation'; ownerId: string; contextId: string | null; position: number | null; invalidation: Invalidation }
  | { kind: 'memory'; ownerId: string; contextId: string; position: number | null; memoryEvent: MemoryEventRow };

/** An event as delivered: its id orders it and is the SSE event id clients resume from. */
export type RecallEvent = RecallEventBody & { id: string };

/** `CacheInvalidation` as the schema shows it. */
export type CacheInvalidationModel = Invalidation & { id: string; contextId: string | null };
