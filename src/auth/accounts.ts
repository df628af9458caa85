import { z } from 'zod';
import type { SessionRow, UserRow } from '../db/rows.js';
import { findCredentialsByEmail, insertUser } from '../db/repositories/users.js';
import type { UserError } from '../errors.js';
import type { AppDeps } from '../app-deps.js';
import { parseInput } from '../validation.js';
import { isEmailAddress } from './email-address.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { startSession, type SessionMeta } from './sessions.js';

export interface AuthResult {
  token: string | null;
  user: UserRow | null;
  session: SessionRow | null;
  errors: UserError[];
}

const failed = (errors: UserError[]): AuthResult => ({ token: null, user: null, session: null, errors });
const invalidCredentials = (): AuthResult =>
  failed([{ code: 'INVALID_CREDENTIALS', message: 'The email or password is incorrect.' }]);

const email = z.string().trim().max(254).refine(isEmailAddress, 'must be an email address');
/** Bounded above because scrypt's cost grows with the input. */
const password = z.string().max(256, 'must be at most 256 characters');

/** The password a new user may choose (sign-up, or an admin created from the command line). */
export const newPassword = password.min(8, 'must be at least 8 characters');

const signUpInput = z.object({
  email,
  password: newPassword,
  name: z.string().trim().min(1).max(100).nullish(),
});

const loginInput = z.object({ email: z.string().trim().max(254), password });

export type SignUpInput = z.input<typeof signUpInput>;
export type LoginInput = z.input<typeof loginInput>;

export async function signUp(deps: AppDeps, input: SignUpInput, meta: SessionMeta): Promise<AuthResult> {
  const parsed = parseInput(signUpInput, input);
  if (!parsed.ok) return failed(parsed.errors);
  const passwordHash = await hashPassword(parsed.value.password);

  return deps.db.transaction(async (tx) => {
    const user = await insertUser(tx, {
      id: deps.newId('usr'),
      email: parsed.value.email,
      name: parsed.value.name ?? null,
      passwordHash,
      createdAt: deps.clock.now(),
    });
    if (!user) return failed([{ code: 'EMAIL_TAKEN', message: 'This email is already registered.', field: ['email'] }]);
    const { token, session } = await startSession(deps, tx, user.id, meta);
    return { token, user, session, errors: [] };
  });
}

/** A hash to verify against when the email is unknown, so both failures take as long. */
let decoyHash: Promise<string> | undefined;

export async function login(deps: AppDeps, input: LoginInput, meta: SessionMeta): Promise<AuthResult> {
  const parsed = parseInput(loginInput, input);
  if (!parsed.ok) return failed(parsed.errors);
  // signUp refuses such an address; answering at once, without scrypt, gives nothing away (the
  // form of an address is no secret).
  if (!isEmailAddress(parsed.value.email)) return invalidCredentials();

  const found = await findCredentialsByEmail(deps.db, parsed.value.email);
  decoyHash ??= hashPassword('decoy password for unknown emails');
  const valid = await verifyPassword(parsed.value.password, found?.passwordHash ?? (await decoyHash));
  if (!found || !valid) return invalidCredentials();
  const { user } = found;
  const { token, session } = await startSession(deps, deps.db, user.id, meta);
  return { token, user, session, errors: [] };
}
