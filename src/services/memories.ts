import { z } from 'zod';
import type {
  AddMemoriesInput,
  DeleteMemoryInput,
  MemoryFilter,
  MemoryKind,
  UpdateMemoryInput,
} from '../__generated__/resolvers-types.js';
import type { Config } from '../config.js';
import type { ContextRow, MemoryRow } from '../db/rows.js';
import { gone } from '../cache/invalidation.js';
import { isForeignKeyViolation } from '../db/database.js';
import * as repo from '../db/repositories/memories.js';
import { notFound, versionConflict, type UserError } from '../errors.js';
import type { GraphQLContext } from '../graphql-context.js';
import { afterId, idCursor, pageSize, toConnection } from '../pagination.js';
import { parseArgs, parseInput } from '../validation.js';
import { publishMemoryChanges } from './change-events.js';
import { responsesOfMemories } from './response-invalidation.js';
import { requireViewer, visibleContext, visibleMemory } from './access.js';

const MAX_TAGS = 32;
const MAX_METADATA_BYTES = 16 * 1024;

const tags = z
  .array(z.string().trim().min(1, 'must not be empty').max(64))
  .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
  .transform((values) => [...new Set(values)]);
const importance = z.number().min(0, 'must be from 0 to 1').max(1, 'must be from 0 to 1');
const metadata = z
  .unknown()
  .refine((value) => Buffer.byteLength(JSON.stringify(value) ?? '') <= MAX_METADATA_BYTES, {
    message: `must serialise to at most ${MAX_METADATA_BYTES} bytes of JSON`,
  });
/** GraphQL has already checked the enum value. */
const kind = z.custom<MemoryKind>((value) => typeof value === 'string');

function memoryFields(config: Config, now: Date) {
  return {
    content: z.string().trim().min(1, 'must not be empty').max(config.MAX_MEMORY_CONTENT_LENGTH),
    kind,
    tags,
    metadata,
    importance,
    expiresAt: z.date().refine((date) => date > now, 'must lie in the future'),
  };
}

function addInput(config: Config, now: Date) {
  const fields = memoryFields(config, now);
  return z.object({
    contextId: z.string(),
    items: z
      .array(
        z.object({
          content: fields.content,
          kind: fields.kind.nullish().transform((value) => value ?? 'NOTE'),
          tags: fields.tags.nullish().transform((value) => value ?? []),
          metadata: fields.metadata.nullish(),
          importance: fields.importance.nullish().transform((value) => value ?? 0.5),
          expiresAt: fields.expiresAt.nullish(),
        }),
      )
      .min(1, 'must hold at least one memory')
      .max(config.MAX_MEMORIES_PER_BATCH, `at most ${config.MAX_MEMORIES_PER_BATCH} memories per call`),
  });
}

function updateInput(config: Config, now: Date) {
  const fields = memoryFields(config, now);
  return z.object({
    id: z.string(),
    content: fields.content.nullish(),
    kind: fields.kind.nullish(),
    tags: fields.tags.nullish(),
    metadata: fields.metadata.nullish(),
    importance: fields.importance.nullish(),
    expiresAt: fields.expiresAt.nullish(),
    expectedVersion: z.number().int().positive().nullish(),
  });
}

const filterArgs = z
  .object({
    kinds: z.array(kind).nullish(),
    tags: z.array(z.string()).max(MAX_TAGS).nullish(),
    minImportance: importance.nullish(),
  })
  .nullish();

/** `Context.memories`: batched across contexts by the memoryPage loader. */
export async function listMemories(
  ctx: GraphQLContext,
  context: ContextRow,
  args: { first?: number | null; after?: string | null; filter?: MemoryFilter | null },
) {
  const limit = pageSize(args.first, ctx.deps.config);
  const filter = parseArgs(filterArgs, args.filter);
  const rows = await ctx.loaders.memoryPage.load({
    contextId: context.id,
    afterId: afterId(args.after, 'mem'),
    limit: limit + 1,
    filter: { kinds: filter?.kinds ?? null, tags: filter?.tags ?? null, minImportance: filter?.minImportance ?? null },
  });
  return { id: context.id, ...toConnection(rows, limit, idCursor) };
}

/** `memory(id)`: a direct fetch counts as one retrieval for the access-frequency factor. */
export async function getMemory(ctx: GraphQLContext, id: string): Promise<MemoryRow | null> {
  const row = await visibleMemory(ctx, id);
  if (row) ctx.deps.accessRecorder.record(requireViewer(ctx).user.id, [row.id]);
  return row;
}

export async function addMemories(ctx: GraphQLContext, input: AddMemoriesInput) {
  requireViewer(ctx);
  const now = ctx.deps.clock.now();
  const parsed = parseInput(addInput(ctx.deps.config, now), input);
  if (!parsed.ok) return { memories: [], context: null, errors: parsed.errors };
  const context = await visibleContext(ctx, parsed.value.contextId);
  if (!context) return { memories: [], context: null, errors: [notFound('context', ['contextId'])] };

  const items = parsed.value.items.map((item) => ({
    id: ctx.deps.newId('mem'),
    contextId: context.id,
    ownerId: context.ownerId,
    content: item.content,
    kind: item.kind,
    tags: item.tags,
    metadata: item.metadata ?? null,
    importance: item.importance,
    createdAt: now,
    expiresAt: item.expiresAt ?? null,
    event: writeEvent(ctx),
  }));
  // The context may be deleted between the check above and the insert.
  const memories = await repo.insertMemories(ctx.deps.db, items).catch((error: unknown) => {
    if (isForeignKeyViolation(error)) return null;
    throw error;
  });
  if (!memories) return { memories: [], context: null, errors: [notFound('context', ['contextId'])] };
  for (const row of memories) {
    ctx.loaders.forgetMemory(row.id);
    ctx.loaders.memory.prime(row.id, row);
  }
  await ctx.deps.responses.invalidate(responsesOfMemories(context.id));
  await publishMemoryChanges(
    ctx,
    'ADDED',
    memories.map((memory, index) => ({ memory, eventId: items[index]!.event.id, previousContent: null })),
  );
  return { memories, context, errors: [] };
}

export interface MemoryResult {
  memory: MemoryRow | null;
  context: ContextRow | null;
  errors: UserError[];
}

export async function updateMemory(ctx: GraphQLContext, input: UpdateMemoryInput): Promise<MemoryResult> {
  const now = ctx.deps.clock.now();
  const parsed = parseInput(updateInput(ctx.deps.config, now), input);
  if (!parsed.ok) return { memory: null, context: null, errors: parsed.errors };
  const { id, expectedVersion, ...fields } = parsed.value;
  const current = await visibleMemory(ctx, id);
  if (!current) return { memory: null, context: null, errors: [notFound('memory', ['id'])] };
  const context = await ctx.loaders.context.load(current.contextId);

  // Explicit nulls clear metadata and expiresAt; the other fields cannot be null.
  const changes: repo.MemoryChanges = {
    ...(fields.content ? { content: fields.content } : {}),
    ...(fields.kind ? { kind: fields.kind } : {}),
    ...(fields.tags ? { tags: fields.tags } : {}),
    ...(typeof fields.importance === 'number' ? { importance: fields.importance } : {}),
    ...('metadata' in input ? { metadata: fields.metadata ?? null } : {}),
    ...('expiresAt' in input ? { expiresAt: fields.expiresAt ?? null } : {}),
  };
  if (Object.keys(changes).length === 0) {
    return { memory: current, context, errors: [{ code: 'BAD_USER_INPUT', message: 'Give at least one field to change.' }] };
  }

  const event = writeEvent(ctx);
  const written = await repo.updateMemory(ctx.deps.db, id, changes, expectedVersion ?? null, now, event);
  ctx.loaders.forgetMemory(id);
  if (written) {
    const updated = written.after;
    // Written through: the next read, on any instance, is a hit on the new version.
    await ctx.deps.cache.invalidate('memory', [ctx.deps.sources.memories.entry(id, updated)]);
    await ctx.deps.responses.invalidate(responsesOfMemories(updated.contextId, [id]));
    await publishMemoryChanges(ctx, 'UPDATED', [{ memory: updated, eventId: event.id, previousContent: written.previousContent }]);
    ctx.loaders.memory.prime(id, updated);
    return { memory: updated, context, errors: [] };
  }
  const latest = await visibleMemory(ctx, id);
  if (!latest) return { memory: null, context: null, errors: [notFound('memory', ['id'])] };
  return { memory: latest, context, errors: [versionConflict('memory', latest.version, expectedVersion)] };
}

export async function deleteMemory(ctx: GraphQLContext, input: DeleteMemoryInput) {
  const current = await visibleMemory(ctx, input.id);
  const missing = { deletedMemoryId: null, memory: null, context: null, errors: [notFound('memory', ['id'])] };
  if (!current) return missing;
  const event = writeEvent(ctx);
  const deleted = await repo.deleteMemory(ctx.deps.db, current.id, ctx.deps.clock.now(), event);
  ctx.loaders.forgetMemory(current.id);
  if (!deleted) return missing;
  const { cache } = ctx.deps;
  await cache.invalidate('memory', [gone(cache.keys.memory(deleted.id), deleted.version + 1, ctx.deps.clock.now())]);
  await ctx.deps.responses.invalidate(responsesOfMemories(deleted.contextId, [deleted.id]));
  await publishMemoryChanges(ctx, 'DELETED', [{ memory: deleted, eventId: event.id, previousContent: deleted.content }]);
  return { deletedMemoryId: deleted.id, memory: deleted, context: await ctx.loaders.context.load(deleted.contextId), errors: [] };
}

/** The history event a write records: its id and who made it. */
function writeEvent(ctx: GraphQLContext): repo.WriteEvent {
  return { id: ctx.deps.newId('evt'), actorId: ctx.viewer?.user.id ?? null };
}
