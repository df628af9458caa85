import type { ApiKeyRow, ContextRow, MemoryEventRow, MemoryRow, SessionRow, UserRow } from '../db/rows.js';
import { authenticationRequired } from '../errors.js';
import { isId, type IdKind } from '../ids.js';
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
 * The row of `kind` with this id if the viewer may see it, else null. Unknown, foreign and
 * malformed ids take the same path (one batched read, then the owner check), so they cannot be
 * told apart by result or timing.
 */
async function visibleOwned<Row>(
  scope: RequestScope,
  id: string,
  kind: IdKind,
  load: (id: string) => Promise<Row | null>,
  ownerOf: (row: Row) => string,
): Promise<Row | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, kind)) return null;
  const row = await load(id);
  return row && canAccess(viewer, ownerOf(row)) ? row : null;
}

export const visibleContext = (scope: RequestScope, id: string): Promise<ContextRow | null> =>
  visibleOwned(scope, id, 'ctx', (key) => scope.loaders.context.load(key), (row) => row.ownerId);

/** The live memory (the loader reads no expired one). */
export const visibleMemory = (scope: RequestScope, id: string): Promise<MemoryRow | null> =>
  visibleOwned(scope, id, 'mem', (key) => scope.loaders.memory.load(key), (row) => row.ownerId);

/** A write in the history of a memory. */
export const visibleMemoryEvent = (scope: RequestScope, id: string): Promise<MemoryEventRow | null> =>
  visibleOwned(scope, id, 'evt', (key) => scope.loaders.memoryEvent.load(key), (row) => row.ownerId);

/** The API key: a revoked one is gone (the loader reads none), as an ended session is. */
export const visibleApiKey = (scope: RequestScope, id: string): Promise<ApiKeyRow | null> =>
  visibleOwned(scope, id, 'key', (key) => scope.loaders.apiKey.load(key), (row) => row.userId);

/** The live session: an ended or expired one is gone, as a deleted memory is. */
export async function visibleSession(scope: RequestScope, id: string): Promise<SessionRow | null> {
  const row = await visibleOwned(scope, id, 'ses', (key) => scope.loaders.session.load(key), (session) => session.userId);
  return row && row.revokedAt === null && row.expiresAt > scope.deps.clock.now() ? row : null;
}

/** The user if the viewer may see them: themself, or anyone for an admin. */
export async function visibleUser(scope: RequestScope, id: string): Promise<UserRow | null> {
  const viewer = requireViewer(scope);
  if (!isId(id, 'usr') || !canAccess(viewer, id)) return null;
  return scope.loaders.user.load(id);
}


/**
 * Memories the request retrieved, for the access-frequency factor: counted now, and kept on the
 * request so that its cached response counts them again on every hit.
 */
export function recordRetrieval(scope: RequestScope, memoryIds: readonly string[]): void {
  scope.deps.accessRecorder.record(requireViewer(scope).user.id, memoryIds);
  for (const id of memoryIds) scope.retrieved.add(id);
}
