import type { CallsWanted } from '../rate-limit/rate-limiter.js';
import type { Viewer } from '../request-scope.js';
import { addressIdentity } from './client-ip.js';
import { identityOf, type FieldLimit } from './field-limits.js';
import type { LimitedCalls } from './operation-cost.js';

/** Whose count a field limit keeps for this caller: their user's, or their address's (always, with `per: ADDRESS`). */
export function limitIdentity(limit: FieldLimit, viewer: Viewer | null, ip: string | null): string {
  return limit.per === 'VIEWER' && viewer ? `user:${viewer.user.id}` : `ip:${addressIdentity(ip)}`;
}

/** The name of a limit's count: the limit, and its identity arguments' hash when it has them. */
export function limitName(limit: FieldLimit, args: Record<string, unknown>): string {
  const identity = identityOf(limit, args);
  return `${limit.field}:${limit.index}${identity ? `:${identity}` : ''}`;
}

/** The counts an operation's limited calls are decided against. */
export function limitCountsOf(calls: readonly LimitedCalls[], viewer: Viewer | null, ip: string | null): CallsWanted[] {
  return calls.map((call) => ({
    field: call.limits[0]!.field,
    count: call.count,
    limits: call.limits.map((limit) => ({
      identity: limitIdentity(limit, viewer, ip),
      name: limitName(limit, call.args),
      max: limit.max,
      windowMs: limit.windowMs,
    })),
  }));
}
