import type { YogaInitialContext } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { SessionRow, UserRow } from './db/rows.js';
import type { IdGenerator } from './ids.js';
import type { Cache } from './cache/cache.js';
import type { ResponseStore } from './cache/response-store.js';
import type { Events } from './events/create-events.js';
import type { OperationBudget } from './rate-limit/operation-budget.js';
import type { CachedSources } from './loaders/cached-sources.js';
import type { Loaders } from './loaders/create-loaders.js';
import type { AccessRecorder } from './relevance/access-recorder.js';

/** Long-lived parts shared by every request. */
export interface AppDeps {
  config: Config;
  db: Database;
  clock: Clock;
  logger: Logger;
  newId: IdGenerator;
  cache: Cache;
  /** Batched cache-aside reads of each entity, under the per-request loaders. */
  sources: CachedSources;
  accessRecorder: AccessRecorder;
  /** Whole responses, per viewer; writes invalidate them by entity before replying. */
  responses: ResponseStore;
  /** Change events: published by writes, followed by subscriptions on every instance. */
  events: Events;
  /** Operations per user and window, counted on every request (cache hits too). */
  budget: OperationBudget;
}

/** The authenticated user of a request and the session its token belongs to. */
export interface Viewer {
  user: UserRow;
  session: SessionRow;
}

/** What Recall adds to yoga's context for each request. */
export interface RequestContext {
  deps: AppDeps;
  viewer: Viewer | null;
  loaders: Loaders;
  /** Client address, for the session record. */
  clientIp: string | null;
  /** The response may be cached until then at the latest (the earliest expiry of a memory in it). */
  cacheableUntil: { at: number };
  /** The event a subscription delivers right now: its id goes out as the SSE event id. */
  delivery: { eventId: string | null };
}

export type GraphQLContext = YogaInitialContext & RequestContext;
