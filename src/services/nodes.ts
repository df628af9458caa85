import { entityTag } from '../cache/response-tags.js';
import type { ApiKeyRow, ContextRow, MemoryEventRow, MemoryRow, SessionRow, UserRow } from '../db/rows.js';
import { clientError } from '../errors.js';
import { kindOf, type IdKind } from '../ids.js';
import { parseRelevanceScoreId, type RelevanceScoreModel } from '../relevance/relevance-score.js';
import type { RequestScope } from '../request-scope.js';
import { canAccess, requireViewer, visibleApiKey, visibleContext, visibleMemory, visibleMemoryEvent, visibleSession, visibleUser } from './access.js';
import { getMemory } from './memories.js';

export type NodeModel = UserRow | ContextRow | MemoryRow | SessionRow | ApiKeyRow | MemoryEventRow | RelevanceScoreModel;
export type NodeTypename = 'User' | 'Context' | 'Memory' | 'Session' | 'ApiKey' | 'MemoryEvent' | 'RelevanceScore';

const TYPENAME_OF_KIND: Record<IdKind, NodeTypename> = { usr: 'User', ctx: 'Context', mem: 'Memory', ses: 'Session', key: 'ApiKey', evt: 'MemoryEvent' };

/** A node's type, read from its id: every id names its kind. */
export function nodeTypename(node: NodeModel): NodeTypename {
  const kind = kindOf(node.id);
  if (kind) return TYPENAME_OF_KIND[kind];
  if (parseRelevanceScoreId(node.id)) return 'RelevanceScore';
  throw new Error(`Not the id of a node: ${node.id}`);
}

/**
 * `node(id)`: the reader of the kind the id names, the very one `context(id)`, `memory(id)` and
 * the others use (same loaders, same checks). Unknown, foreign and malformed ids are all null.
 */
export async function findNode(scope: RequestScope, id: string): Promise<NodeModel | null> {
  requireViewer(scope);
  switch (kindOf(id)) {
    case 'usr':
      return visibleUser(scope, id);
    case 'ctx':
      return visibleContext(scope, id);
    case 'mem':
      return getMemory(scope, id);
    case 'ses':
      return visibleSession(scope, id);
    case 'key':
      return visibleApiKey(scope, id);
    case 'evt':
      return eventNode(scope, id);
    case null:
      return scoreNode(scope, id);
  }
}

/** `nodes(ids)`: every id read in the same tick, so each kind is one loader batch. */
export async function findNodes(scope: RequestScope, ids: readonly string[]): Promise<Array<NodeModel | null>> {
  const max = scope.deps.config.MAX_PAGE_SIZE;
  if (ids.length > max) throw clientError('BAD_USER_INPUT', `nodes takes at most ${max} ids (MAX_PAGE_SIZE).`, { field: ['ids'] });
  return Promise.all(ids.map((id) => findNode(scope, id)));
}

/** History is kept until its context is deleted: a cached answer showing the event goes with it. */
async function eventNode(scope: RequestScope, id: string): Promise<MemoryEventRow | null> {
  const event = await visibleMemoryEvent(scope, id);
  if (event) scope.dependsOn.add(entityTag('Context', event.contextId));
  return event;
}

/**
 * The score its id names, at the memory's and context's current versions, as `Memory.relevance`
 * computes it. Users reach their own scores, admins anyone's.
 */
async function scoreNode(scope: RequestScope, id: string): Promise<RelevanceScoreModel | null> {
  const named = parseRelevanceScoreId(id);
  if (!named || !canAccess(requireViewer(scope), named.userId)) return null;
  const [memory, context] = await Promise.all([visibleMemory(scope, named.memoryId), visibleContext(scope, named.contextId)]);
  if (!memory || !context) return null;
  // A cached answer showing the score goes stale with its memory; with its context, it goes
  // through the RelevanceScore type's tag, which every context edit drops.
  scope.dependsOn.add(entityTag('Memory', memory.id));
  return scope.loaders.relevance.load({
    userId: named.userId,
    contextId: context.id,
    memoryId: memory.id,
    memoryVersion: memory.version,
    contextVersion: context.version,
  });
}
