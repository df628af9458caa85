import { z } from 'zod';
import { verifyPassword } from '../auth/passwords.js';
import { deleteLockedContext, lockContextsOfOwner } from '../db/repositories/contexts.js';
import { endCredentialsOfUser } from '../db/repositories/sessions.js';
import { deleteLockedUser, findPasswordHash, lockUser } from '../db/repositories/users.js';
import type { RecordedChange } from '../domain/change.js';
import { clientError, notFound, type UserError } from '../errors.js';
import { isAdmin, type RequestScope } from '../request-scope.js';
import { parseInput } from '../validation.js';
import { requireViewer } from './access.js';
import { afterWrite } from './after-write.js';

const deleteAccountInput = z.object({ password: z.string().max(256) });
const deleteUserInput = z.object({ id: z.string().max(64) });

type Deleted = { userId: string | null; errors: UserError[] };

/** `deleteAccount`: the viewer, with their password, deletes themself and everything they own. */
export async function deleteAccount(scope: RequestScope, input: z.input<typeof deleteAccountInput>): Promise<Deleted> {
  const viewer = requireViewer(scope);
  const parsed = parseInput(deleteAccountInput, input);
  if (!parsed.ok) return { userId: null, errors: parsed.errors };
  // Read here: no cache holds password hashes.
  const passwordHash = await findPasswordHash(scope.deps.db, viewer.user.id);
  if (passwordHash === null || !(await verifyPassword(parsed.value.password, passwordHash))) {
    return { userId: null, errors: [{ code: 'INVALID_CREDENTIALS', message: 'The password is incorrect.', field: ['password'] }] };
  }
  return deleteEverything(scope, viewer.user.id);
}

/** `deleteUser`: an admin deletes any user, as `deleteAccount` would. */
export async function deleteUser(scope: RequestScope, input: z.input<typeof deleteUserInput>): Promise<Deleted> {
  const viewer = requireViewer(scope);
  if (!isAdmin(viewer)) throw clientError('FORBIDDEN', 'Only an admin may delete another user.');
  const parsed = parseInput(deleteUserInput, input);
  if (!parsed.ok) return { userId: null, errors: parsed.errors };
  return deleteEverything(scope, parsed.value.id);
}

/**
 * Deletes the user and all they own in one transaction, with their row locked throughout (no
 * login or new context slips in), then takes every cached copy of it off every instance before
 * replying. The order of the changes is what subscribers hear: every session and API key ends
 * first (the SESSION_ENDED event ends their subscriptions before they could hear of the rest),
 * then each context goes with its memories, then the user. The user's earlier events are
 * dropped from the stream that replays them, and the Redis keys naming them (scores, budgets,
 * limits) are unlinked.
 */
async function deleteEverything(scope: RequestScope, userId: string): Promise<Deleted> {
  const { db, clock, cache } = scope.deps;
  const at = clock.now();
  const changes = await db.transaction(async (tx) => {
    if (!(await lockUser(tx, userId))) return null;
    const recorded: RecordedChange[] = [];
    const ended = await endCredentialsOfUser(tx, userId, { keepSessionId: null, apiKeys: true }, at);
    if (ended) recorded.push(ended.recorded);
    for (const contextId of await lockContextsOfOwner(tx, userId)) {
      const deleted = await deleteLockedContext(tx, contextId, at);
      if (deleted) recorded.push(deleted.recorded);
    }
    const user = await deleteLockedUser(tx, userId);
    recorded.push(user!.recorded);
    return recorded;
  });
  if (!changes) return { userId: null, errors: [notFound('User', ['id'])] };
  // Before the deletion's own events go out: those name only ids, and every instance must read
  // them to end the user's subscriptions; the earlier ones may carry their memories' contents.
  await scope.deps.events.bus.forgetOwner(userId);
  // Every change is applied even when one is left pending (the outbox replays it): the first failure is reported after.
  let failure: unknown = null;
  for (const recorded of changes) {
    await afterWrite(scope, recorded).catch((error: unknown) => (failure ??= error));
  }
  await cache.forgetUser(userId);
  if (failure) throw failure;
  return { userId, errors: [] };
}
