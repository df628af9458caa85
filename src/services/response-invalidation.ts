import type { CacheEntityRecord } from '../cache/response-store.js';

/**
 * What cached responses a write makes stale, by the entities they contain. Lists and searches
 * carry the id of their context (MemoryConnection, MemorySearchConnection) and the list of
 * contexts that of its owner (ContextConnection), so a write reaches exactly those.
 */
export const responsesOfMemories = (contextId: string, memoryIds: readonly string[] = []): CacheEntityRecord[] => [
  ...memoryIds.map((id) => ({ typename: 'Memory', id })),
  { typename: 'MemoryConnection', id: contextId },
  { typename: 'MemorySearchConnection', id: contextId },
];

export const responsesOfContext = (contextId: string, ownerId: string): CacheEntityRecord[] => [
  { typename: 'Context', id: contextId },
  { typename: 'ContextConnection', id: ownerId },
  // A score against a context depends on its name and description; scores carry no context id
  // of their own, so every cached score goes (context edits are rare).
  { typename: 'RelevanceScore' },
];
