import type { AppDeps } from '../app-deps.js';
import { clearUnder } from '../cache/key-scan.js';
import { recordContextPurge, recordMemoryPurge, recordTierPurge, recordUserPurge } from '../db/repositories/cache-purges.js';
import type { L1Part, RecordedChange } from '../domain/change.js';
import { clientError, notFound, type UserError } from '../errors.js';
import { isAdmin, type RequestScope } from '../request-scope.js';
import { applyChange } from './after-write.js';
import { requireViewer } from './access.js';

/** The kinds of keys a purge by kind drops: the cached entities', and whole responses. */
export const PURGE_KINDS = ['memory', 'score', 'session', 'user', 'context', 'apikey', 'response'] as const;
export type PurgeKind = (typeof PURGE_KINDS)[number];

const PURGE_TYPENAMES = ['Memory', 'Context', 'User'] as const;

/**
 * The Redis keys a purge of a kind drops, as patterns under the prefix. Pages of a context's
 * memories go with either kind: they list memories, and are found by the context's list sequence.
 */
const patternsOf = (kind: PurgeKind): string[] => (kind === 'memory' || kind === 'context' ? [`${kind}:*`, 'memory-page:*'] : [`${kind}:*`]);

export type PurgeTarget =
  | { typename: (typeof PURGE_TYPENAMES)[number]; id: string }
  | { kind: PurgeKind }
  | { all: true };

export interface PurgeCacheInput {
  typename?: string | null;
  id?: string | null;
  contextId?: string | null;
  userId?: string | null;
  kind?: string | null;
  all?: boolean | null;
}

const badInput = (message: string, field: string): UserError => ({ code: 'BAD_USER_INPUT', message, field: ['input', field] });

/** The one thing to purge the input names; an error unless it names exactly one. */
export function purgeTargetOf(input: PurgeCacheInput): PurgeTarget | UserError {
  const given = [
    input.typename != null || input.id != null ? 'typename' : null,
    input.contextId != null ? 'contextId' : null,
    input.userId != null ? 'userId' : null,
    input.kind != null ? 'kind' : null,
    input.all === true ? 'all' : null,
  ].filter((name) => name !== null);
  if (given.length !== 1) return badInput('Give exactly one of: typename with id, contextId, userId, kind, or all: true.', given[1] ?? 'typename');
  if (input.contextId != null) return { typename: 'Context', id: input.contextId };
  if (input.userId != null) return { typename: 'User', id: input.userId };
  if (input.all === true) return { all: true };
  if (input.kind != null) {
    const kind = PURGE_KINDS.find((known) => known === input.kind);
    return kind ? { kind } : badInput(`kind must be one of ${PURGE_KINDS.join(', ')}.`, 'kind');
  }
  const typename = PURGE_TYPENAMES.find((known) => known === input.typename);
  if (!typename) return badInput(`typename must be one of ${PURGE_TYPENAMES.join(', ')}.`, 'typename');
  if (!input.id) return badInput('id is required with typename.', 'id');
  return { typename, id: input.id };
}

export type PurgeDeps = Pick<AppDeps, 'db' | 'cache' | 'events' | 'clock'>;

export interface Purged {
  /** Entity keys and response tags invalidated, or Redis keys dropped (a kind, or everything). */
  purged: number;
  errors: UserError[];
}

/**
 * Purges one target through the invalidation path of writes: recorded in the outbox (reason
 * ADMIN_PURGE), applied to Redis and to every instance's L1, and told to subscribers, all
 * before it returns. A kind is dropped from Redis by SCAN + UNLINK first (no outbox row could
 * name its keys), then every instance empties that in-process tier. Everything starts a new
 * cache generation, as a cold start does: every instance stops serving the old one's entries.
 * `adminId` is whose name a purge of a kind or of everything is recorded in.
 */
export async function purge(deps: PurgeDeps, target: PurgeTarget, adminId: string): Promise<Purged> {
  const { db, cache, clock } = deps;
  const at = clock.now();
  let recorded: RecordedChange | null;
  let dropped: number | null = null;
  if ('typename' in target) {
    const record = { Memory: recordMemoryPurge, Context: recordContextPurge, User: recordUserPurge }[target.typename];
    recorded = await record(db, target.id, at);
    if (!recorded) return { purged: 0, errors: [notFound(target.typename, ['input', 'id'])] };
  } else {
    const parts: L1Part[] = 'all' in target ? ['entities', 'responses'] : [target.kind === 'response' ? 'responses' : 'entities'];
    if ('all' in target) dropped = await cache.log.regenerate();
    else dropped = await clearKind(cache, target.kind);
    recorded = await recordTierPurge(db, adminId, parts, at);
  }
  await applyChange(deps, recorded);
  if (dropped !== null) return { purged: dropped, errors: [] };
  const invalidation = cache.invalidationOf(recorded.change);
  return { purged: invalidation.writes.length + invalidation.tags.length, errors: [] };
}

/** Drops a kind's keys from Redis (none without it); how many. */
async function clearKind(cache: PurgeDeps['cache'], kind: PurgeKind): Promise<number> {
  let dropped = 0;
  for (const pattern of patternsOf(kind)) dropped += cache.redis ? (await clearUnder(cache.redis, cache.keys, pattern)).deleted : 0;
  return dropped;
}

/** Admins only: `purgeCache`. */
export async function purgeCache(scope: RequestScope, input: PurgeCacheInput): Promise<Purged> {
  const viewer = requireViewer(scope);
  if (!isAdmin(viewer)) throw clientError('FORBIDDEN', 'Only admins may purge the cache.');
  const target = purgeTargetOf(input);
  if ('code' in target) return { purged: 0, errors: [target] };
  return purge(scope.deps, target, viewer.user.id);
}
