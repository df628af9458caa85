import type { BudgetDecision } from '../rate-limit/rate-limiter.js';
import type { FieldRefusal } from './field-allowances.js';

/**
 * Why a request is not let in, whatever the transport. The reply module turns it into an HTTP
 * response (status, headers, a GraphQL error body) or, over WebSocket, into the same GraphQL
 * error: one refusal, the same words everywhere.
 */
export interface Refusal {
  status: 400 | 401 | 403 | 409 | 411 | 413 | 429 | 500;
  code:
    | 'UNAUTHENTICATED'
    | 'FORBIDDEN'
    | 'CONFLICT'
    | 'LENGTH_REQUIRED'
    | 'PAYLOAD_TOO_LARGE'
    | 'RATE_LIMITED'
    | 'COST_ESTIMATED_TOO_EXPENSIVE'
    | 'RESPONSE_TOO_LARGE'
    | 'BAD_USER_INPUT'
    | 'CSRF_REFUSED'
    | 'INTERNAL_SERVER_ERROR';
  message: string;
  /** HTTP headers that go with it (WWW-Authenticate, Retry-After, RateLimit-*). */
  headers: Record<string, string>;
  /** What `extensions` carries besides the code. */
  extensions: Record<string, unknown>;
  /** The caller's budget as this refusal left it, when it was consulted. */
  budget?: BudgetDecision;
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

/** A credential that is good, but not for this (another user's event stream). */
export function forbidden(message: string): Refusal {
  return { status: 403, code: 'FORBIDDEN', message, headers: {}, extensions: {} };
}

/** A request that does not fit the state of what it addresses (an event stream opened twice). */
export function conflict(message: string): Refusal {
  return { status: 409, code: 'CONFLICT', message, headers: {}, extensions: {} };
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

/** What `extensions.cost` tells the client: the points asked for and the budget left after them. */
export function costExtension(decision: BudgetDecision): {
  cost: { requested: number; remaining: number; limit: number; resetSeconds: number; apiKey?: string };
} {
  const { cost: requested, remaining, limit, resetSeconds, apiKey } = decision;
  return { cost: { requested, remaining, limit, resetSeconds, ...(apiKey ? { apiKey } : {}) } };
}

/** A refusal that also says what the caller's budget holds (a refused credential spends a point). */
export function withBudget(refusal: Refusal, decision: BudgetDecision): Refusal {
  return { ...refusal, headers: { ...refusal.headers, ...budgetHeaders(decision) }, budget: decision };
}

/** A spent budget: Retry-After in seconds, and the code and delay clients can branch on. */
export function rateLimited(decision: BudgetDecision): Refusal {
  return {
    status: 429,
    code: 'RATE_LIMITED',
    message: `Rate limit reached: the operation costs ${decision.cost} points and ${decision.remaining} of ${decision.limit} are left in this window. Retry in ${decision.resetSeconds} s.`,
    headers: { 'Retry-After': String(decision.resetSeconds), ...budgetHeaders(decision) },
    extensions: { retryAfter: decision.resetSeconds, ...costExtension(decision) },
    budget: decision,
  };
}

/** The message of a refused call of a rate-limited field: the SDL's own, or one naming the field and the wait. */
export function fieldRefusalMessage(refusal: FieldRefusal): string {
  return refusal.limit.message ?? `Rate limit reached for ${refusal.limit.field}: retry in ${refusal.retryAfterSeconds} s.`;
}

/** An operation all of whose calls a field limit refused: 429 like a spent budget (nothing of it was run or spent). */
export function fieldRateLimited(refusal: FieldRefusal, budget: BudgetDecision | null): Refusal {
  return {
    status: 429,
    code: 'RATE_LIMITED',
    message: fieldRefusalMessage(refusal),
    headers: { 'Retry-After': String(refusal.retryAfterSeconds), ...(budget ? budgetHeaders(budget) : {}) },
    extensions: { retryAfter: refusal.retryAfterSeconds, field: refusal.limit.field },
    ...(budget ? { budget } : {}),
  };
}

/** Input refused before anything looks at it (variables nested too deep, or holding U+0000). */
export function badInput(message: string): Refusal {
  return { status: 400, code: 'BAD_USER_INPUT', message, headers: {}, extensions: {} };
}

/**
 * A POST any web page could have sent (see csrf-prevention.ts): `contentType` is its media type
 * (null: none), `preflightHeaders` those that would have shown it is not forged.
 */
export function csrfRefused(contentType: string | null, preflightHeaders: readonly string[]): Refusal {
  const sent = contentType ? `Content-Type ${contentType}` : 'no Content-Type';
  return {
    status: 400,
    code: 'CSRF_REFUSED',
    message: `Not run: a POST with ${sent} and no header that forces a CORS preflight could come from any web page. Send Content-Type: application/json, or one of these headers: ${preflightHeaders.join(', ')}.`,
    headers: {},
    extensions: {},
  };
}

/** An operation whose cost, known before it runs, is over MAX_OPERATION_COST: 400, spending nothing. */
export function costTooHigh(points: number, maxPoints: number): Refusal {
  return {
    status: 400,
    code: 'COST_ESTIMATED_TOO_EXPENSIVE',
    message: `The operation may cost ${points} points; the limit is ${maxPoints} (MAX_OPERATION_COST). Ask for smaller pages (first) or fewer nested lists.`,
    headers: {},
    extensions: { cost: { requested: points, limit: maxPoints } },
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

/** A result larger than MAX_RESPONSE_BYTES: replaced by this error rather than sent. */
export function responseTooLarge(bytes: number, maxBytes: number): Refusal {
  return {
    status: 400,
    code: 'RESPONSE_TOO_LARGE',
    message: `The response is ${bytes} bytes; the limit is ${maxBytes} (MAX_RESPONSE_BYTES). Ask for fewer items (first) or fewer fields.`,
    headers: {},
    extensions: {},
  };
}
