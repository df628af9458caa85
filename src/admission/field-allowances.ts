import type { Grant } from '../rate-limit/rate-limiter.js';
import type { FieldLimit } from './field-limits.js';
import type { LimitedCalls } from './operation-cost.js';

/** A refused call: which limit, and when a call will have room again. */
export interface FieldRefusal {
  limit: FieldLimit;
  retryAfterSeconds: number;
}

/**
 * The calls of rate-limited fields an admitted operation was granted, by call group. Executing
 * fields take from it in the order they run; a call with nothing left is refused (the field is
 * null with RATE_LIMITED), so N granted calls are the first N made.
 */
export interface FieldAllowances {
  /** Takes `calls` of a group's allowance; the refusal when there are not that many left. */
  take(group: string, calls: number, limits: readonly FieldLimit[]): FieldRefusal | null;
  /** The refusal of the first group that was refused entirely. */
  firstRefusal(): FieldRefusal | null;
  /** Some call was refused: the operation's answer is not the one a cached response holds. */
  readonly refusedSome: boolean;
}

export function createFieldAllowances(wanted: readonly LimitedCalls[], grants: readonly Grant[]): FieldAllowances {
  const left = new Map<string, { calls: number; refusal: FieldRefusal }>();
  let refusedSome = false;
  wanted.forEach((call, i) => {
    const grant = grants[i] ?? { granted: 0, retryAfterSeconds: 0 };
    if (grant.granted < call.count) refusedSome = true;
    left.set(call.group, { calls: grant.granted, refusal: { limit: call.limits[0]!, retryAfterSeconds: Math.max(1, grant.retryAfterSeconds) } });
  });
  return {
    refusedSome,
    take(group, calls, limits) {
      const allowance = left.get(group);
      // A call the cost walk did not foresee (no valid document makes one) was never counted: refused.
      if (!allowance) return { limit: limits[0]!, retryAfterSeconds: 1 };
      if (allowance.calls < calls) return allowance.refusal;
      allowance.calls -= calls;
      return null;
    },
    firstRefusal() {
      for (const allowance of left.values()) if (allowance.calls === 0) return allowance.refusal;
      return null;
    },
  };
}
