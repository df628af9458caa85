import type { ApiKeyRow, ContextRow, MemoryEventRow, MemoryRow, SessionRow, UserRow } from '../db/rows.js';
import { authenticationRequired } from '../errors.js';
import { isId } from '../ids.js';
import { isAdmin, type RequestScope, type Viewer } from '../request-scope.js';

export function requireViewer(scope: Pick<RequestScope, 'viewer'>): Viewer {
  if (!scope.viewer) throw authenticationRequired();
  return scope.viewer;
}

/** Users reach only what they own; admins reach everything. */
export function canAccess(viewer: Viewer, ownerId: string): boolean {
  return viewer.user.id === ownerId || isAdmin(viewer);
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

/** The user if the viewer may see them: themself, or anyone for an admin. */
export async function visibleUser(scope: RequestScope, id: string): Promise<UserRow | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, 'usr') || !canAccess(viewer, id)) return null;
  return scope.loaders.user.load(id);
}

/** The live session if the viewer may see it: an ended one is gone, as a deleted memory is. */
export async function visibleSession(scope: RequestScope, id: string): Promise<SessionRow | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, 'ses')) return null;
  const row = await scope.loaders.session.load(id);
  const live = row && row.revokedAt === null && row.expiresAt > scope.deps.clock.now();
  return live && canAccess(viewer, row.userId) ? row : null;
}

/** The API key if the viewer may see it: a revoked one is gone, as an ended session is. */
export async function visibleApiKey(scope: RequestScope, id: string): Promise<ApiKeyRow | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, 'key')) return null;
  const row = await scope.loaders.apiKey.load(id);
  return row && canAccess(viewer, row.userId) ? row : null;
}

/** A write in the history of a memory if the viewer may see it (same path for unknown and foreign ids). */
export async function visibleMemoryEvent(scope: RequestScope, id: string): Promise<MemoryEventRow | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, 'evt')) return null;
  const row = await scope.loaders.memoryEvent.load(id);
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
