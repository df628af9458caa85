import type { BudgetDecision } from '../rate-limit/operation-budget.js';

/**
 * Why a request is not let in, whatever the transport. The reply module turns it into an HTTP
 * response (status, headers, a GraphQL error body) or, over WebSocket, into the same GraphQL
 * error: one refusal, the same words everywhere.
 */
export interface Refusal {
  status: 401 | 411 | 413 | 429 | 500;
  code: 'UNAUTHENTICATED' | 'LENGTH_REQUIRED' | 'PAYLOAD_TOO_LARGE' | 'RATE_LIMITED' | 'INTERNAL_SERVER_ERROR';
  message: string;
  /** HTTP headers that go with it (WWW-Authenticate, Retry-After, RateLimit-*). */
  headers: Record<string, string>;
  /** What `extensions` carries besides the code. */
  extensions: Record<string, unknown>;
}

/** Thrown by an authentication strategy for a credential of its kind that is not good. */
export class RefusedError extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.message);
    this.name = 'RefusedError';
  }
}

export function unauthenticated(message: string): Refusal {
  return { status: 401, code: 'UNAUTHENTICATED', message, headers: { 'WWW-Authenticate': 'Bearer' }, extensions: {} };
}

export const invalidCredential = (): RefusedError => new RefusedError(unauthenticated('The bearer token is invalid, expired or revoked.'));

/** The RateLimit-* headers (IETF draft) every counted response carries. */
export function budgetHeaders(decision: BudgetDecision): Record<string, string> {
  return {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(decision.resetSeconds),
  };
}

/** A spent budget: Retry-After in seconds, and the code and delay clients can branch on. */
export function rateLimited(decision: BudgetDecision): Refusal {
  return {
    status: 429,
    code: 'RATE_LIMITED',
    message: `Rate limit reached: ${decision.limit} operations per window. Retry in ${decision.resetSeconds} s.`,
    headers: { 'Retry-After': String(decision.resetSeconds), ...budgetHeaders(decision) },
    extensions: { retryAfter: decision.resetSeconds },
  };
}

/** The credential could not be checked (the database is down): masked like any unexpected error. */
export function unavailable(): Refusal {
  return { status: 500, code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error.', headers: {}, extensions: {} };
}

/** A body sent without a Content-Length (chunked): its size cannot be checked before it is read. */
export function lengthRequired(): Refusal {
  return { status: 411, code: 'LENGTH_REQUIRED', message: 'Send the request body with a Content-Length header.', headers: {}, extensions: {} };
}

export function payloadTooLarge(declaredBytes: number, maxBodyBytes: number): Refusal {
  return {
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
    message: `The request body is ${declaredBytes} bytes; the limit is ${maxBodyBytes} (MAX_BODY_BYTES).`,
    headers: {},
    extensions: {},
  };
}
