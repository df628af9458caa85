import type { IncomingMessage } from 'node:http';
import type { YogaInitialContext } from 'graphql-yoga';
import type { FieldAllowances } from './admission/field-allowances.js';
import type { RequestScope } from './request-scope.js';

/** What node:http adds to yoga's context; absent when tests call `yoga.fetch`. */
export interface ServerContext {
  req?: IncomingMessage;
}

/** What Recall adds to yoga's context for each request: the request scope, and what GraphQL needs besides. */
export interface RequestContext extends RequestScope {
  /** Client address, for the session record. */
  clientIp: string | null;
  /** The calls of rate-limited fields admission granted; null when the caller is not limited (admins). */
  allowances: FieldAllowances | null;
  /** The Authorization header it was admitted with (a subscription checks it again for each event). */
  authorization: string | null;
  /** performance.now() when it was admitted. */
  startedAt: number;
  /** The response may be cached until then at the latest (the earliest expiry of a memory in it). */
  cacheableUntil: { at: number };
  /** The event a subscription delivers right now: its id goes out as the SSE event id. */
  delivery: { eventId: string | null };
}

export type GraphQLContext = YogaInitialContext & RequestContext;
