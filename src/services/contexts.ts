import { z } from 'zod';
import type {
  CreateContextInput,
  DeleteContextInput,
  UpdateContextInput,
} from '../__generated__/resolvers-types.js';
import type { ContextRow } from '../db/rows.js';
import { gone, stale } from '../cache/invalidation.js';
import * as repo from '../db/repositories/contexts.js';
import { notFound, versionConflict, type UserError } from '../errors.js';
import type { GraphQLContext } from '../graphql-context.js';
import { afterId, idCursor, pageSize, toConnection } from '../pagination.js';
import { parseInput } from '../validation.js';
import { publishContextChange } from './change-events.js';
import { responsesOfContext, responsesOfMemories } from './response-invalidation.js';
import { requireViewer, visibleContext } from './access.js';

const name = z.string().trim().min(1, 'must not be empty').max(200);
const description = z.string().trim().max(2000);

const createInput = z.object({
  name,
  description: description.nullish(),
  key: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'must be 1 to 100 letters, digits, ".", "_", ":" or "-"')
    .nullish(),
});

const updateInput = z.object({
  id: z.string(),
  name: name.nullish(),
  description: description.nullish(),
  expectedVersion: z.number().int().positive().nullish(),
});

export interface ContextResult {
  context: ContextRow | null;
  errors: UserError[];
}

export async function listContexts(ctx: GraphQLContext, args: { first?: number | null; after?: string | null }) {
  const viewer = requireViewer(ctx);
  const limit = pageSize(args.first, ctx.deps.config);
  const rows = await repo.pageContextsOfOwner(ctx.deps.db, viewer.user.id, {
    afterId: afterId(args.after, 'ctx'),
    limit: limit + 1,
  });
  for (const row of rows) ctx.loaders.context.prime(row.id, row);
  return { id: viewer.user.id, ...toConnection(rows, limit, idCursor) };
}

export async function createContext(ctx: GraphQLContext, input: CreateContextInput): Promise<ContextResult> {
  const viewer = requireViewer(ctx);
  const parsed = parseInput(createInput, input);
  if (!parsed.ok) return { context: null, errors: parsed.errors };

  const row = await repo.insertContext(ctx.deps.db, {
    id: ctx.deps.newId('ctx'),
    ownerId: viewer.user.id,
    key: parsed.value.key ?? null,
    name: parsed.value.name,
    description: parsed.value.description ?? null,
    createdAt: ctx.deps.clock.now(),
  });
  if (!row) {
    return { context: null, errors: [{ code: 'CONFLICT', message: 'You already have a context with this key.', field: ['key'] }] };
  }
  ctx.loaders.context.prime(row.id, row);
  await ctx.deps.responses.invalidate([{ typename: 'ContextConnection', id: row.ownerId }]);
  await publishContextChange(ctx, 'CONTEXT_CREATED', row);
  return { context: row, errors: [] };
}

export async function updateContext(ctx: GraphQLContext, input: UpdateContextInput): Promise<ContextResult> {
  const parsed = parseInput(updateInput, input);
  if (!parsed.ok) return { context: null, errors: parsed.errors };
  const { id, name: newName, description: newDescription, expectedVersion } = parsed.value;
  const current = await visibleContext(ctx, id);
  if (!current) return { context: null, errors: [notFound('context', ['id'])] };

  // An explicit null clears the description; a left-out field keeps its value.
  const changes: repo.ContextChanges = {
    ...(newName ? { name: newName } : {}),
    ...('description' in input ? { description: newDescription ?? null } : {}),
  };
  if (Object.keys(changes).length === 0) {
    return { context: current, errors: [{ code: 'BAD_USER_INPUT', message: 'Give at least one field to change.' }] };
  }
  const now = ctx.deps.clock.now();
  const row = await repo.updateContext(ctx.deps.db, id, changes, expectedVersion ?? null, now);
  ctx.loaders.forgetContext(id);
  if (!row) return conflictOrGone(ctx, id, expectedVersion);
  const { cache } = ctx.deps;
  await cache.invalidate('context', [stale(cache.keys.context(id), row.version, now)]);
  await ctx.deps.responses.invalidate(responsesOfContext(id, row.ownerId));
  await publishContextChange(ctx, 'CONTEXT_UPDATED', row);
  ctx.loaders.context.prime(id, row);
  return { context: row, errors: [] };
}

async function conflictOrGone(ctx: GraphQLContext, id: string, expected: number | null | undefined): Promise<ContextResult> {
  const latest = await visibleContext(ctx, id);
  if (!latest) return { context: null, errors: [notFound('context', ['id'])] };
  return { context: latest, errors: [versionConflict('context', latest.version, expected)] };
}

export async function deleteContext(ctx: GraphQLContext, input: DeleteContextInput) {
  const current = await visibleContext(ctx, input.id);
  const deleted = current && (await repo.deleteContext(ctx.deps.db, current.id));
  if (!deleted) return { deletedContextId: null, errors: [notFound('context', ['id'])] };
  ctx.loaders.forgetContext(deleted.id);
  for (const memory of deleted.memories) ctx.loaders.forgetMemory(memory.id);
  // The context's memories went with it: their cached copies must go too.
  const { cache } = ctx.deps;
  const now = ctx.deps.clock.now();
  await cache.invalidate('context', [gone(cache.keys.context(deleted.id), deleted.version + 1, now)]);
  await cache.invalidate(
    'memory',
    deleted.memories.map((memory) => gone(cache.keys.memory(memory.id), memory.version + 1, now)),
  );
  await ctx.deps.responses.invalidate([
    ...responsesOfContext(deleted.id, current.ownerId),
    ...responsesOfMemories(deleted.id, deleted.memories.map((memory) => memory.id)),
  ]);
  await publishContextChange(
    ctx,
    'CONTEXT_DELETED',
    current,
    deleted.memories.map((memory) => memory.id),
  );
  return { deletedContextId: deleted.id, errors: [] };
}
