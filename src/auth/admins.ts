import type { Logger } from 'pino';
import type { AppDeps } from '../app-deps.js';
import { insertUser, promoteToAdmin } from '../db/repositories/users.js';
import type { UserRow } from '../db/rows.js';
import { applyChange } from '../services/after-write.js';
import { newPassword } from './accounts.js';
import { isEmailAddress } from './email-address.js';
import { hashPassword } from './passwords.js';

export class AdminSetupError extends Error {}

export interface MadeAdmin {
  user: UserRow;
  /** Whether the user was created (with the given password). */
  created: boolean;
  /** Whether the role changed (false: they already were an admin). */
  promoted: boolean;
}

/**
 * Makes the user with this email an admin, creating them with `password` when there is none.
 * The change goes the way a write's does (every cached copy of the user, their sessions and keys
 * invalidated on every instance, then a USER_UPDATED event), so every instance sees the new role.
 */
export async function makeAdmin(
  deps: Pick<AppDeps, 'db' | 'cache' | 'events' | 'clock' | 'newId'>,
  email: string,
  password: string | null,
): Promise<MadeAdmin> {
  const address = email.trim();
  if (!isEmailAddress(address)) throw new AdminSetupError(`"${address}" is not an email address.`);
  let created = false;
  if (password !== null) {
    const checked = newPassword.safeParse(password);
    if (!checked.success) throw new AdminSetupError(`The password ${checked.error.issues[0]!.message}.`);
    const now = deps.clock.now();
    const passwordHash = await hashPassword(password);
    created = (await insertUser(deps.db, { id: deps.newId('usr'), email: address, name: null, passwordHash, createdAt: now })) !== null;
  }
  const promoted = await promoteToAdmin(deps.db, address, deps.clock.now());
  if (!promoted) throw new AdminSetupError(`No user has the email ${address}; give a password to create one.`);
  if (promoted.recorded) await applyChange(deps, promoted.recorded);
  return { user: promoted.user, created, promoted: promoted.recorded !== null };
}

/** RECALL_ADMIN_EMAIL at start-up: an unknown email is logged and the server starts anyway (the user may sign up later). */
export async function promoteConfiguredAdmin(email: string, deps: Parameters<typeof makeAdmin>[0], logger: Logger): Promise<void> {
  try {
    const made = await makeAdmin(deps, email, null);
    if (made.promoted) logger.info({ userId: made.user.id }, `RECALL_ADMIN_EMAIL: ${made.user.email} is now an admin`);
  } catch (error) {
    if (!(error instanceof AdminSetupError)) throw error;
    logger.warn(`RECALL_ADMIN_EMAIL: ${error.message} Sign up with it, then restart.`);
  }
}
