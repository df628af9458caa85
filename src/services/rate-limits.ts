import type { AppDeps } from '../app-deps.js';
import { limitIdentity, limitName } from '../admission/limit-counts.js';
import { spenderOf } from '../admission/admission.js';
import { clientError, type UserError } from '../errors.js';
import { isAdmin, type RequestScope } from '../request-scope.js';
import { requireViewer } from './access.js';

export interface RateLimitsStatus {
  budget: { limit: number; remaining: number; resetSeconds: number } | null;
  fields: Array<{ field: string; max: number; windowSeconds: number; remaining: number; per: 'VIEWER' | 'ADDRESS' }>;
}

/** The viewer's budget and the field limits counted per caller, as they stand (reading spends nothing). */
export async function rateLimitsOf(scope: RequestScope & { clientIp: string | null }): Promise<RateLimitsStatus> {
  const viewer = requireViewer(scope);
  const { limiter, fieldLimits } = scope.deps;
  const spender = spenderOf(viewer, scope.clientIp);
  // Limits per argument value (login per email) have as many counts as values: none is "the" one.
  const limits = [...fieldLimits.values()].flat().filter((limit) => limit.identityArgs.length === 0);
  if (spender === null) return { budget: null, fields: [] };
  const seen = await limiter.peek(
    spender,
    limits.map((limit) => ({ identity: limitIdentity(limit, viewer, scope.clientIp), name: limitName(limit, {}), max: limit.max, windowMs: limit.windowMs })),
  );
  return {
    budget: { limit: seen.limit, remaining: seen.remaining, resetSeconds: seen.resetSeconds },
    fields: limits.map((limit, i) => ({
      field: limit.field,
      max: limit.max,
      windowSeconds: Math.ceil(limit.windowMs / 1000),
      remaining: Math.max(0, limit.max - seen.counts[i]!),
      per: limit.per,
    })),
  };
}

const IDENTITY = /^(user:[A-Za-z0-9_]+|ip:[0-9A-Fa-f.:]+)$/;

/** Admins only: forgets one identity's counts of a field, or all its counts and its budget. */
export async function resetRateLimit(scope: RequestScope, input: { identity: string; field?: string | null }): Promise<{ errors: UserError[] }> {
  const viewer = requireViewer(scope);
  if (!isAdmin(viewer)) throw clientError('FORBIDDEN', 'Only admins may reset rate limits.');
  return resetLimits(scope.deps, input);
}

/** The reset itself, for `resetRateLimit` and the admin CLI: one identity's counts of a field, or all of them and its budget. */
export async function resetLimits(
  deps: Pick<AppDeps, 'limiter' | 'fieldLimits'>,
  input: { identity: string; field?: string | null },
): Promise<{ errors: UserError[] }> {
  if (!IDENTITY.test(input.identity)) {
    return { errors: [{ code: 'BAD_USER_INPUT', message: 'identity must be user:<id> or ip:<address>.', field: ['input', 'identity'] }] };
  }
  const field = input.field ?? null;
  if (field !== null && !deps.fieldLimits.has(field)) {
    return { errors: [{ code: 'BAD_USER_INPUT', message: `${field} has no rate limit; limited fields: ${[...deps.fieldLimits.keys()].join(', ')}.`, field: ['input', 'field'] }] };
  }
  await deps.limiter.reset(input.identity, field);
  return { errors: [] };
}
