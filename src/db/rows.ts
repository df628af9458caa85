import type { ApiKeyScope, MemoryEventType, MemoryKind, Role, Tier } from '../domain/enums.js';

/** Rows as repositories return them (camel-cased by the SELECT aliases). */

/** A user as the rest of the app sees it: never with the password hash, so no cache ever holds it. */
export interface UserRow {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  tier: Tier;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface SessionRow {
  id: string;
  userId: string;
  tokenHash: string;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  userAgent: string | null;
  ip: string | null;
}

export interface ApiKeyRow {
  id: string;
  userId: string;
  name: string;
  /** Names the key in lists and logs; the token is `rk_<prefix>_<secret>`. */
  prefix: string;
  /** sha256 of the whole token: the token itself is never stored. */
  secretHash: string;
  scopes: ApiKeyScope[];
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface ContextRow {
  id: string;
  ownerId: string;
  key: string | null;
  name: string;
  description: string | null;
  version: number;
  /** The list sequence: raised by every write to the context's memories (cached pages are keyed by it). */
  listVersion: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The version a cached context carries: its row's version and its list sequence only grow, so
 * their sum grows with any write to either (an edit, or a write to one of its memories).
 */
export const contextCacheVersion = (context: Pick<ContextRow, 'version' | 'listVersion'>): number => context.version + context.listVersion;

export interface MemoryRow {
  id: string;
  contextId: string;
  ownerId: string;
  content: string;
  kind: MemoryKind;
  tags: string[];
  metadata: unknown;
  importance: number;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date | null;
}

export interface MemoryEventRow {
  id: string;
  memoryId: string;
  contextId: string;
  ownerId: string;
  actorId: string | null;
  type: MemoryEventType;
  version: number;
  previousContent: string | null;
  content: string | null;
  occurredAt: Date;
}
