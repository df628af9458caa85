import type { MemoryEventType } from '../__generated__/resolvers-types.js';
import type { MemoryRow } from '../db/rows.js';
import type { EntityRef, RecallEventBody } from '../events/recall-event.js';
import type { GraphQLContext } from '../graphql-context.js';

/** One memory a write changed, with the history event the same statement recorded. */
export interface MemoryChange {
  memory: MemoryRow;
  eventId: string;
  previousContent: string | null;
}

const REASONS: Record<MemoryEventType, string> = {
  ADDED: 'MEMORIES_ADDED',
  UPDATED: 'MEMORY_UPDATED',
  DELETED: 'MEMORY_DELETED',
};

/**
 * Tells subscribers on every instance what a memory write changed: one history event per
 * memory (memoryEvents), and one invalidation of the memories and their context
 * (cacheInvalidated). Called after the caches were invalidated, so that a client that refetches
 * on the event reads the new data.
 */
export function publishMemoryChanges(ctx: GraphQLContext, type: MemoryEventType, changes: MemoryChange[]): Promise<void> {
  const first = changes[0];
  if (!first) return Promise.resolve();
  const { contextId, ownerId } = first.memory;
  const occurredAt = ctx.deps.clock.now();
  const actorId = ctx.viewer?.user.id ?? null;
  const history: RecallEventBody[] = changes.map(({ memory, eventId, previousContent }) => ({
    kind: 'memory',
    ownerId,
    contextId,
    memoryEvent: {
      id: eventId,
      memoryId: memory.id,
      contextId,
      ownerId,
      actorId,
      type,
      version: memory.version,
      previousContent,
      content: type === 'DELETED' ? null : memory.content,
      occurredAt,
    },
  }));
  return ctx.deps.events.bus.publish([
    ...history,
    invalidation(ctx, ownerId, contextId, REASONS[type], [
      ...changes.map(({ memory }) => ({ typename: 'Memory', id: memory.id })),
      { typename: 'Context', id: contextId },
    ]),
  ]);
}

export function publishContextChange(
  ctx: GraphQLContext,
  reason: 'CONTEXT_CREATED' | 'CONTEXT_UPDATED' | 'CONTEXT_DELETED',
  context: { id: string; ownerId: string },
  memoryIds: readonly string[] = [],
): Promise<void> {
  return ctx.deps.events.bus.publish([
    invalidation(ctx, context.ownerId, context.id, reason, [
      { typename: 'Context', id: context.id },
      ...memoryIds.map((id) => ({ typename: 'Memory', id })),
    ]),
  ]);
}

export function publishSessionEnded(ctx: GraphQLContext, session: { id: string; userId: string }): Promise<void> {
  return ctx.deps.events.bus.publish([
    invalidation(ctx, session.userId, null, 'SESSION_ENDED', [{ typename: 'Session', id: session.id }]),
  ]);
}

function invalidation(
  ctx: GraphQLContext,
  ownerId: string,
  contextId: string | null,
  reason: string,
  entities: EntityRef[],
): RecallEventBody {
  return {
    kind: 'invalidation',
    ownerId,
    contextId,
    invalidation: { entities, reason, occurredAt: ctx.deps.clock.now(), source: ctx.deps.events.bus.source },
  };
}
