import type { MemoryEventRow } from '../db/rows.js';
import type { Change } from '../domain/change.js';
import type { EntityRef, RecallEventBody } from '../events/recall-event.js';

/** The entities a change names in its `cacheInvalidated` event, as clients key them. */
function entitiesOf(change: Change): EntityRef[] {
  const memories = change.memories.map(({ id }) => ({ typename: 'Memory', id }));
  if (change.user) return [{ typename: 'User', id: change.user.id }];
  if (change.sessions.length > 0 || change.apiKeys.length > 0) {
    return [...change.sessions.map(({ id }) => ({ typename: 'Session', id })), ...change.apiKeys.map(({ id }) => ({ typename: 'ApiKey', id }))];
  }
  if (change.context) return [{ typename: 'Context', id: change.context.id }, ...memories];
  return [...memories, ...(change.contextId ? [{ typename: 'Context', id: change.contextId }] : [])];
}

/**
 * What subscribers on every instance hear of a write: the history event of each memory it
 * wrote (memoryEvents), then one invalidation of what it changed (cacheInvalidated), both at the
 * write's log position.
 */
export function changeEvents(
  change: Change,
  history: readonly MemoryEventRow[],
  meta: { position: number | null; occurredAt: Date; source: string },
): RecallEventBody[] {
  const { ownerId, contextId } = change;
  return [
    ...history.map((memoryEvent): RecallEventBody => ({ kind: 'memory', ownerId, contextId: memoryEvent.contextId, position: meta.position, memoryEvent })),
    {
      kind: 'invalidation',
      ownerId,
      contextId,
      position: meta.position,
      invalidation: { entities: entitiesOf(change), reason: change.reason, occurredAt: meta.occurredAt, source: meta.source },
    },
  ];
}
