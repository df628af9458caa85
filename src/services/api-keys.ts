import { z } from 'zod';
import { hashToken, newApiKeyToken } from '../auth/tokens.js';
import * as repo from '../db/repositories/api-keys.js';
import type { ApiKeyRow, UserRow } from '../db/rows.js';
import type { ApiKeyScope } from '../domain/enums.js';
import { notFound, type UserError } from '../errors.js';
import { isId } from '../ids.js';
import { isAdmin, type RequestScope } from '../request-scope.js';
import { parseInput } from '../validation.js';
import { canAccess, requireViewer } from './access.js';
import { afterWrite } from './after-write.js';

const createInput = (now: Date) =>
  z.object({
    name: z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters'),
    // The schema's enum has already checked each value.
    scopes: z.array(z.custom<ApiKeyScope>()).min(1, 'must name at least one scope'),
    expiresAt: z
      .date()
      .refine((date) => date > now, 'must lie in the future')
      .nullish(),
  });

export type CreateApiKeyInput = z.input<ReturnType<typeof createInput>>;

/**
 * A new key of the viewer's user. The token is returned this once; only its hash is stored.
 * A key made with a key never exceeds it (see `beyondCallingKey`).
 */
export async function createApiKey(
  scope: RequestScope,
  input: CreateApiKeyInput,
): Promise<{ apiKey: ApiKeyRow | null; secret: string | null; errors: UserError[] }> {
  const viewer = requireViewer(scope);
  const now = scope.deps.clock.now();
  const parsed = parseInput(createInput(now), input);
  if (!parsed.ok) return { apiKey: null, secret: null, errors: parsed.errors };
  const beyond = viewer.apiKey ? beyondCallingKey(viewer.apiKey, viewer.scopes, parsed.value) : [];
  if (beyond.length > 0) return { apiKey: null, secret: null, errors: beyond };

  const { token, prefix } = newApiKeyToken();
  const max = scope.deps.config.API_KEYS_MAX_PER_USER;
  const apiKey = await repo.insertApiKey(
    scope.deps.db,
    {
      id: scope.deps.newId('key'),
      userId: viewer.user.id,
      name: parsed.value.name,
      prefix,
      secretHash: hashToken(token),
      scopes: [...new Set(parsed.value.scopes)],
      createdAt: now,
      expiresAt: parsed.value.expiresAt ?? null,
    },
    max,
  );
  if (!apiKey) {
    const message = `You already have ${max} API keys that are neither revoked nor expired (API_KEYS_MAX_PER_USER): revoke one first.`;
    return { apiKey: null, secret: null, errors: [{ code: 'CONFLICT', message }] };
  }
  return { apiKey, secret: token, errors: [] };
}

/**
 * Revokes the key: recorded with the write, its cached copies are superseded on every tier of
 * every instance before this returns, so no instance accepts it afterwards. Another user's key
 * is NOT_FOUND, like an unknown one (admins may revoke anyone's).
 */
export async function revokeApiKey(scope: RequestScope, input: { id: string }): Promise<{ apiKey: ApiKeyRow | null; errors: UserError[] }> {
  const viewer = requireViewer(scope);
  if (!isId(input.id, 'key')) return { apiKey: null, errors: [notFound('ApiKey', ['id'])] };
  const revoked = await repo.revokeApiKey(scope.deps.db, input.id, isAdmin(viewer) ? null : viewer.user.id, scope.deps.clock.now());
  if (!revoked) return { apiKey: null, errors: [notFound('ApiKey', ['id'])] };
  const { recorded, ...apiKey } = revoked;
  await afterWrite(scope, recorded);
  return { apiKey, errors: [] };
}

/** `User.apiKeys`: the user's keys that are not revoked, for the user themself or an admin; empty for anyone else. */
export async function listApiKeys(scope: RequestScope, user: UserRow): Promise<ApiKeyRow[]> {
  if (!canAccess(requireViewer(scope), user.id)) return [];
  const keys = await repo.findApiKeysOfUser(scope.deps.db, user.id);
  for (const key of keys) scope.loaders.apiKey.prime(key.id, key);
  return keys;
}

/**
 * What a key asked for with another key may not have: scopes the calling key lacks, or a life
 * past the calling key's expiry. Otherwise a leaked key that manages keys would mint itself a
 * broader or longer-lived one.
 */
function beyondCallingKey(caller: ApiKeyRow, scopes: ReadonlySet<string>, asked: { scopes: readonly string[]; expiresAt?: Date | null }): UserError[] {
  const errors: UserError[] = [];
  const missing = [...new Set(asked.scopes)].filter((scope) => !scopes.has(scope));
  if (missing.length > 0) {
    errors.push({ code: 'FORBIDDEN', message: `A key may only make keys with scopes it has itself; this one lacks ${missing.join(', ')}.`, field: ['scopes'] });
  }
  if (caller.expiresAt && (!asked.expiresAt || asked.expiresAt > caller.expiresAt)) {
    errors.push({ code: 'FORBIDDEN', message: `A key may only make keys that expire no later than itself (${caller.expiresAt.toISOString()}).`, field: ['expiresAt'] });
  }
  return errors;
}
