import type { AppDeps } from './app-deps.js';
import type { ReadPosition } from './cache/store.js';
import type { SessionRow, UserRow } from './db/rows.js';
import type { Loaders } from './loaders/create-loaders.js';

/** The authenticated user of a request and the session its token belongs to. */
export interface Viewer {
  user: UserRow;
  session: SessionRow;
}

/**
 * What a service needs of the request it serves, whatever the transport: no GraphQL or HTTP
 * types. The GraphQL context extends it.
 */
export interface RequestScope {
  deps: AppDeps;
  viewer: Viewer | null;
  loaders: Loaders;
  /** The invalidation log as this request saw it when it was admitted; raised by its own writes. */
  read: ReadPosition;
  /** Memories this request retrieved: counted toward access frequency, and again on every hit of its cached response. */
  retrieved: Set<string>;
  /**
   * Response tags the answer depends on beyond the entities it shows: the lists it read (see
   * cache/response-tags.ts), and what a node fetched by id goes stale with.
   */
  dependsOn: Set<string>;
  /** Aborted when the client has left. */
  signal?: AbortSignal;
}
