import type { AppDeps } from './app-deps.js';
import type { ReadPosition } from './cache/store.js';
import type { ApiKeyRow, SessionRow, UserRow } from './db/rows.js';
import { API_KEY_SCOPES, type ApiKeyScope } from './domain/enums.js';
import type { Loaders } from './loaders/create-loaders.js';

/** The authenticated user of a request, the credential it came with, and what that credential may do. */
export interface Viewer {
  user: UserRow;
  /** The session of a session token; null for an API key. */
  session: SessionRow | null;
  /** The API key the request came with; null for a session. */
  apiKey: ApiKeyRow | null;
  /** Every scope for a session; a key's own scopes for a key (enforced by @requireScope). */
  scopes: ReadonlySet<ApiKeyScope>;
}

const EVERY_SCOPE: ReadonlySet<ApiKeyScope> = new Set(API_KEY_SCOPES);

export const sessionViewer = (user: UserRow, session: SessionRow): Viewer => ({ user, session, apiKey: null, scopes: EVERY_SCOPE });

export const apiKeyViewer = (user: UserRow, apiKey: ApiKeyRow): Viewer => ({ user, session: null, apiKey, scopes: new Set(apiKey.scopes) });

/** Admin powers need an admin user and a credential with ADMIN (a session, or an ADMIN-scoped key). */
export const isAdmin = (viewer: Viewer): boolean => viewer.user.role === 'ADMIN' && viewer.scopes.has('ADMIN');

/**
 * Whose cached responses (and ETags) a viewer shares: their user's, unless their credential
 * lacks a scope, which makes the answers differ (fields refused, admin powers dropped). Every
 * reader and writer of the response cache keys by this, so an answer computed with more scopes
 * is never served to a key with fewer.
 */
export function responseCacheIdentity(viewer: Viewer): string {
  if (viewer.scopes.size === EVERY_SCOPE.size) return viewer.user.id;
  return `${viewer.user.id}|${API_KEY_SCOPES.filter((scope) => viewer.scopes.has(scope)).join(',')}`;
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
