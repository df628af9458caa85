import { z } from 'zod';
import { contextListTag } from '../cache/response-tags.js';
import type { ContextRow } from '../db/rows.js';
import * as repo from '../db/repositories/contexts.js';
import { notFound, versionConflict, type UserError } from '../errors.js';
import { afterId, idCursor, pageSize, toConnection } from '../pagination.js';
import type { RequestScope } from '../request-scope.js';
import { parseInput } from '../validation.js';
import { requireViewer, visibleContext } from './access.js';
import { afterWrite } from './after-write.js';

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

export type CreateContextInput = z.input<typeof createInput>;
export type UpdateContextInput = z.input<typeof updateInput>;

export interface ContextResult {
  context: ContextRow | null;
  errors: UserError[];
}

export async function listContexts(scope: RequestScope, args: { first?: number | null; after?: string | null }) {
  const viewer = requireViewer(scope);
  const limit = pageSize(args.first, scope.deps.config);
  const rows = await repo.pageContextsOfOwner(scope.deps.db, viewer.user.id, {
    afterId: afterId(args.after, 'ctx'),
    limit: limit + 1,
  });
  for (const row of rows) scope.loaders.context.prime(row.id, row);
  scope.dependsOn.add(contextListTag(viewer.user.id));
  return toConnection(rows, limit, idCursor);
}

export async function createContext(scope: RequestScope, input: CreateContextInput): Promise<ContextResult> {
  const viewer = requireViewer(scope);
  const parsed = parseInput(createInput, input);
  if (!parsed.ok) return { context: null, errors: parsed.errors };

  const written = await repo.insertContext(scope.deps.db, {
    id: scope.deps.newId('ctx'),
    ownerId: viewer.user.id,
    key: parsed.value.key ?? null,
    name: parsed.value.name,
    description: parsed.value.description ?? null,
    createdAt: scope.deps.clock.now(),
  });
  if (!written) {
    return { context: null, errors: [{ code: 'CONFLICT', message: 'You already have a context with this key.', field: ['key'] }] };
  }
  await afterWrite(scope, { ...written.recorded, prime: { context: written.context } });
  return { context: written.context, errors: [] };
}

export async function updateContext(scope: RequestScope, input: UpdateContextInput): Promise<ContextResult> {
  const parsed = parseInput(updateInput, input);
  if (!parsed.ok) return { context: null, errors: parsed.errors };
  const { id, name: newName, description: newDescription, expectedVersion } = parsed.value;
  const current = await visibleContext(scope, id);
  if (!current) return { context: null, errors: [notFound('context', ['id'])] };

  // An explicit null clears the description; a left-out field keeps its value.
  const changes: repo.ContextChanges = {
    ...(newName ? { name: newName } : {}),
    ...('description' in input ? { description: newDescription ?? null } : {}),
  };
  if (Object.keys(changes).length === 0) {
    return { context: current, errors: [{ code: 'BAD_USER_INPUT', message: 'Give at least one field to change.' }] };
  }
  const written = await repo.updateContext(scope.deps.db, id, changes, expectedVersion ?? null, scope.deps.clock.now());
  if (!written) {
    scope.loaders.forgetContext(id);
    return conflictOrGone(scope, id, expectedVersion);
  }
  await afterWrite(scope, { ...written.recorded, prime: { context: written.context } });
  return { context: written.context, errors: [] };
}

async function conflictOrGone(scope: RequestScope, id: string, expected: number | null | undefined): Promise<ContextResult> {
  const latest = await visibleContext(scope, id);
  if (!latest) return { context: null, errors: [notFound('context', ['id'])] };
  return { context: latest, errors: [versionConflict('context', latest.version, expected)] };
}

export async function deleteContext(scope: RequestScope, input: { id: string }) {
  const current = await visibleContext(scope, input.id);
  const deleted = current && (await repo.deleteContext(scope.deps.db, current.id, scope.deps.clock.now()));
  if (!deleted) return { deletedContextId: null, errors: [notFound('context', ['id'])] };
  // The context's memories went with it: the change names them, so their cached copies go too.
  await afterWrite(scope, deleted.recorded);
  return { deletedContextId: deleted.id, errors: [] };
}
