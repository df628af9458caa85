import type { BudgetDecision } from './operation-budget.js';

/** The RateLimit-* headers (IETF draft) every counted response carries. */
export function budgetHeaders(decision: BudgetDecision): Record<string, string> {
  return {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(decision.resetSeconds),
  };
}

/** The 429 of a spent budget: Retry-After in seconds, and the error code clients can branch on. */
export function budgetRefusal(decision: BudgetDecision): { status: 429; headers: Record<string, string>; body: string } {
  return {
    status: 429,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Retry-After': String(decision.resetSeconds),
      ...budgetHeaders(decision),
    },
    body: JSON.stringify({
      errors: [
        {
          message: `Rate limit reached: ${decision.limit} operations per window. Retry in ${decision.resetSeconds} s.`,
          extensions: { code: 'RATE_LIMITED', retryAfter: decision.resetSeconds },
        },
      ],
    }),
  };
}
