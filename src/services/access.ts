import type { ContextRow, MemoryRow } from '../db/rows.js';
import { authenticationRequired } from '../errors.js';
import type { GraphQLContext, Viewer } from '../graphql-context.js';
import { isId } from '../ids.js';

export function requireViewer(ctx: GraphQLContext): Viewer {
  if (!ctx.viewer) throw authenticationRequired();
  return ctx.viewer;
}

/** Users reach only what they own; admins reach everything. */
export function canAccess(viewer: Viewer, ownerId: string): boolean {
  return viewer.user.id === ownerId || viewer.user.role === 'ADMIN';
}

/**
 * The context if the viewer may see it, else null. Unknown and foreign ids take the same path
 * (one batched read, then the owner check), so they cannot be told apart by result or timing.
 */
export async function visibleContext(ctx: GraphQLContext, id: string): Promise<ContextRow | null> {
  const viewer = requireViewer(ctx);
  if (!isId(id, 'ctx')) return null;
  const row = await ctx.loaders.context.load(id);
  return row && canAccess(viewer, row.ownerId) ? row : null;
}

/** The live memory if the viewer may see it, else null (same path for unknown and foreign ids). */
export async function visibleMemory(ctx: GraphQLContext, id: string): Promise<MemoryRow | null> {
  const viewer = requireViewer(ctx);
  if (!isId(id, 'mem')) return null;
  const row = await ctx.loaders.memory.load(id);
  return row && canAccess(viewer, row.ownerId) ? row : null;
}
