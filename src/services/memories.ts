import { z } from 'zod';
import { memoryListTag } from '../cache/response-tags.js';
import type { Config } from '../config.js';
import type { ContextRow, MemoryEventRow, MemoryRow } from '../db/rows.js';
import * as repo from '../db/repositories/memories.js';
import type { MemoryEventType, MemoryKind } from '../domain/enums.js';
import { notFound, versionConflict, type UserError } from '../errors.js';
import { afterId, idCursor, pageSize, toConnection } from '../pagination.js';
import type { RequestScope } from '../request-scope.js';
import { parseArgs, parseInput } from '../validation.js';
import { recordRetrieval, requireViewer, visibleContext, visibleMemory } from './access.js';
import { afterWrite } from './after-write.js';

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

export type AddMemoriesInput = z.input<ReturnType<typeof addInput>>;
export type UpdateMemoryInput = z.input<ReturnType<typeof updateInput>>;
export type MemoryFilterInput = z.input<typeof filterArgs>;

/**
 * `Context.memories`: batched across contexts by the memoryPage loader. The page is found by the
 * context's list sequence as the request reads it now (the parent row may predate a write this
 * request made).
 */
export async function listMemories(
  scope: RequestScope,
  parent: ContextRow,
  args: { first?: number | null; after?: string | null; filter?: MemoryFilterInput },
) {
  const limit = pageSize(args.first, scope.deps.config);
  const filter = parseArgs(filterArgs, args.filter);
  const context = await scope.loaders.context.load(parent.id);
  if (!context) return toConnection<MemoryRow>([], limit, idCursor);
  const rows = await scope.loaders.memoryPage.load({
    ownerId: context.ownerId,
    contextId: context.id,
    listVersion: context.listVersion,
    afterId: afterId(args.after, 'mem'),
    limit: limit + 1,
    filter: { kinds: filter?.kinds ?? null, tags: filter?.tags ?? null, minImportance: filter?.minImportance ?? null },
  });
  scope.dependsOn.add(memoryListTag(context.id));
  return toConnection(rows, limit, idCursor);
}

/** `memory(id)`: a direct fetch counts as one retrieval for the access-frequency factor. */
export async function getMemory(scope: RequestScope, id: string): Promise<MemoryRow | null> {
  const row = await visibleMemory(scope, id);
  if (row) recordRetrieval(scope, [row.id]);
  return row;
}

export async function addMemories(scope: RequestScope, input: AddMemoriesInput) {
  requireViewer(scope);
  const now = scope.deps.clock.now();
  const parsed = parseInput(addInput(scope.deps.config, now), input);
  if (!parsed.ok) return { memories: [], context: null, errors: parsed.errors };
  const context = await visibleContext(scope, parsed.value.contextId);
  if (!context) return { memories: [], context: null, errors: [notFound('context', ['contextId'])] };

  const items = parsed.value.items.map((item) => ({
    id: scope.deps.newId('mem'),
    contextId: context.id,
    ownerId: context.ownerId,
    content: item.content,
    kind: item.kind,
    tags: item.tags,
    metadata: item.metadata ?? null,
    importance: item.importance,
    createdAt: now,
    expiresAt: item.expiresAt ?? null,
    event: writeEvent(scope),
  }));
  // Null when the context was deleted between the check above and the insert.
  const written = await repo.insertMemories(scope.deps.db, items);
  if (!written) return { memories: [], context: null, errors: [notFound('context', ['contextId'])] };
  const { memories, recorded } = written;
  await afterWrite(scope, {
    ...recorded,
    history: memories.map((memory, index) => historyEvent(scope, 'ADDED', memory, items[index]!.event.id, null)),
    prime: { memories },
  });
  return { memories, context, errors: [] };
}

export interface MemoryResult {
  memory: MemoryRow | null;
  context: ContextRow | null;
  errors: UserError[];
}

export async function updateMemory(scope: RequestScope, input: UpdateMemoryInput): Promise<MemoryResult> {
  const now = scope.deps.clock.now();
  const parsed = parseInput(updateInput(scope.deps.config, now), input);
  if (!parsed.ok) return { memory: null, context: null, errors: parsed.errors };
  const { id, expectedVersion, ...fields } = parsed.value;
  const current = await visibleMemory(scope, id);
  if (!current) return { memory: null, context: null, errors: [notFound('memory', ['id'])] };
  const context = await scope.loaders.context.load(current.contextId);

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

  const event = writeEvent(scope);
  const written = await repo.updateMemory(scope.deps.db, id, changes, expectedVersion ?? null, now, event);
  if (written) {
    const updated = written.after;
    await afterWrite(scope, {
      ...written.recorded,
      // Written through: the next read, on any instance, is a hit on the new version.
      writeThrough: [scope.deps.sources.memories.entry(id, updated)],
      history: [historyEvent(scope, 'UPDATED', updated, event.id, written.previousContent)],
      prime: { memories: [updated] },
    });
    return { memory: updated, context, errors: [] };
  }
  scope.loaders.forgetMemory(id);
  const latest = await visibleMemory(scope, id);
  if (!latest) return { memory: null, context: null, errors: [notFound('memory', ['id'])] };
  return { memory: latest, context, errors: [versionConflict('memory', latest.version, expectedVersion)] };
}

export async function deleteMemory(scope: RequestScope, input: { id: string }) {
  const current = await visibleMemory(scope, input.id);
  const missing = { deletedMemoryId: null, memory: null, context: null, errors: [notFound('memory', ['id'])] };
  if (!current) return missing;
  const event = writeEvent(scope);
  const written = await repo.deleteMemory(scope.deps.db, current.id, scope.deps.clock.now(), event);
  if (!written) {
    scope.loaders.forgetMemory(current.id);
    return missing;
  }
  const { deleted, recorded } = written;
  await afterWrite(scope, { ...recorded, history: [historyEvent(scope, 'DELETED', deleted, event.id, deleted.content)] });
  return { deletedMemoryId: deleted.id, memory: deleted, context: await scope.loaders.context.load(deleted.contextId), errors: [] };
}

/** The history event a write records: its id and who made it. */
function writeEvent(scope: RequestScope): repo.WriteEvent {
  return { id: scope.deps.newId('evt'), actorId: scope.viewer?.user.id ?? null };
}

/** The history row a write recorded, as memoryEvents subscribers receive it. */
function historyEvent(scope: RequestScope, type: MemoryEventType, memory: MemoryRow, eventId: string, previousContent: string | null): MemoryEventRow {
  return {
    id: eventId,
    memoryId: memory.id,
    contextId: memory.contextId,
    ownerId: memory.ownerId,
    actorId: scope.viewer?.user.id ?? null,
    type,
    version: memory.version,
    previousContent,
    content: type === 'DELETED' ? null : memory.content,
    occurredAt: scope.deps.clock.now(),
  };
}
