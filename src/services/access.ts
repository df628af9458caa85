import type { ContextRow, MemoryRow } from '../db/rows.js';
import { authenticationRequired } from '../errors.js';
import { isId } from '../ids.js';
import type { RequestScope, Viewer } from '../request-scope.js';

export function requireViewer(scope: Pick<RequestScope, 'viewer'>): Viewer {
  if (!scope.viewer) throw authenticationRequired();
  return scope.viewer;
}

/** Users reach only what they own; admins reach everything. */
export function canAccess(viewer: Viewer, ownerId: string): boolean {
  return viewer.user.id === ownerId || viewer.user.role === 'ADMIN';
}

/**
 * The context if the viewer may see it, else null. Unknown and foreign ids take the same path
 * (one batched read, then the owner check), so they cannot be told apart by result or timing.
 */
export async function visibleContext(scope: RequestScope, id: string): Promise<ContextRow | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, 'ctx')) return null;
  const row = await scope.loaders.context.load(id);
  return row && canAccess(viewer, row.ownerId) ? row : null;
}

/** The live memory if the viewer may see it, else null (same path for unknown and foreign ids). */
export async function visibleMemory(scope: RequestScope, id: string): Promise<MemoryRow | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, 'mem')) return null;
  const row = await scope.loaders.memory.load(id);
  return row && canAccess(viewer, row.ownerId) ? row : null;
}

/**
 * Memories the request retrieved, for the access-frequency factor: counted now, and kept on the
 * request so that its cached response counts them again on every hit.
 */
export function recordRetrieval(scope: RequestScope, memoryIds: readonly string[]): void {
  scope.deps.accessRecorder.record(requireViewer(scope).user.id, memoryIds);
  for (const id of memoryIds) scope.retrieved.add(id);
}
