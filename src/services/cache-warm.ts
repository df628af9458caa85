import type { AppDeps } from '../app-deps.js';
import { pageContextsOfOwner } from '../db/repositories/contexts.js';
import { pageLiveMemoryIdsOfContext } from '../db/repositories/memories.js';
import type { ReadPosition } from '../cache/store.js';
import type { ContextRow } from '../db/rows.js';
import { clientError, notFound, type UserError } from '../errors.js';
import { isAdmin, type RequestScope } from '../request-scope.js';
import { requireViewer } from './access.js';

/** Entities loaded per round trip (one SQL statement and one cache fill per kind). */
export const WARM_BATCH = 100;

export interface Warmed {
  contexts: number;
  memories: number;
  scores: number;
  errors: UserError[];
}

export type WarmTarget = { contextId: string } | { userId: string };
export type WarmDeps = Pick<AppDeps, 'db' | 'sources' | 'clock'>;

/**
 * Loads a context's memories, and their scores against it (as its owner sees them), through the
 * cache-aside sources every read uses, in batches: what is cached is left, what is not is read
 * from PostgreSQL and stored, guarded like any fill. `onBatch` is told after each batch.
 */
async function warmContext(deps: WarmDeps, read: ReadPosition, context: ContextRow, warmed: Warmed, onBatch?: (warmed: Warmed) => void): Promise<void> {
  const { db, sources, clock } = deps;
  let afterId: string | null = null;
  for (;;) {
    const ids = await pageLiveMemoryIdsOfContext(db, context.id, { afterId, limit: WARM_BATCH }, clock.now());
    if (ids.length === 0) return;
    afterId = ids.at(-1)!;
    const memories = (await sources.memories.load(ids, read)).filter((memory) => memory !== null);
    warmed.memories += memories.length;
    const scoreKeys = memories.map((memory) => ({
      userId: context.ownerId,
      contextId: context.id,
      memoryId: memory.id,
      memoryVersion: memory.version,
      contextVersion: context.version,
    }));
    const scores = await sources.scores.load(scoreKeys, read);
    warmed.scores += scores.filter((score) => score !== null).length;
    onBatch?.(warmed);
  }
}

/**
 * Warms one context, or every context of one user. `read` is the log position the loads began
 * at (a request's admission): fills are refused for entries invalidated after it.
 */
export async function warm(deps: WarmDeps, read: ReadPosition, target: WarmTarget, onBatch?: (warmed: Warmed) => void): Promise<Warmed> {
  const warmed: Warmed = { contexts: 0, memories: 0, scores: 0, errors: [] };
  const loadContexts = (ids: readonly string[]) => deps.sources.contexts.load(ids, read);
  if ('contextId' in target) {
    const [context] = await loadContexts([target.contextId]);
    if (!context) return { ...warmed, errors: [notFound('Context', ['input', 'contextId'])] };
    warmed.contexts = 1;
    await warmContext(deps, read, context, warmed, onBatch);
    return warmed;
  }
  const [user] = await deps.sources.users.load([target.userId], read);
  if (!user) return { ...warmed, errors: [notFound('User', ['input', 'userId'])] };
  let afterId: string | null = null;
  for (;;) {
    const page = await pageContextsOfOwner(deps.db, target.userId, { afterId, limit: WARM_BATCH });
    if (page.length === 0) return warmed;
    afterId = page.at(-1)!.id;
    const contexts = (await loadContexts(page.map((row) => row.id))).filter((context) => context !== null);
    warmed.contexts += contexts.length;
    for (const context of contexts) await warmContext(deps, read, context, warmed, onBatch);
  }
}

/** Admins only: `warmCache`, with exactly one of contextId and userId. */
export async function warmCache(scope: RequestScope, input: { contextId?: string | null; userId?: string | null }): Promise<Warmed> {
  const viewer = requireViewer(scope);
  if (!isAdmin(viewer)) throw clientError('FORBIDDEN', 'Only admins may warm the cache.');
  if ((input.contextId == null) === (input.userId == null)) {
    return { contexts: 0, memories: 0, scores: 0, errors: [{ code: 'BAD_USER_INPUT', message: 'Give exactly one of contextId and userId.', field: ['input'] }] };
  }
  return warm(scope.deps, scope.read, input.contextId != null ? { contextId: input.contextId } : { userId: input.userId! });
}
