import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { createCacheAside } from '../cache/cache-aside.js';
import type { Cache } from '../cache/cache.js';
import type { Sealer } from '../cache/sealer.js';
import { byId, groupBy } from '../collections.js';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { contextCacheVersion, type ApiKeyRow, type ContextRow, type MemoryRow, type SessionRow, type UserRow } from '../db/rows.js';
import { findApiKeysBySecretHashes } from '../db/repositories/api-keys.js';
import { findContextsByIds } from '../db/repositories/contexts.js';
import { findMemoriesByIds, pageMemoriesOfContexts, type MemoryFilterValues } from '../db/repositories/memories.js';
import { scoreAgainstContexts } from '../db/repositories/relevance.js';
import { findSessionsByTokenHashes } from '../db/repositories/sessions.js';
import { findUsersByIds } from '../db/repositories/users.js';
import { relevanceScoreId, type RelevanceScoreModel } from '../relevance/relevance-score.js';
import { breakdownOf, scoreParams } from '../relevance/score-params.js';

export interface ScoreKey {
  userId: string;
  contextId: string;
  memoryId: string;
  /** The versions the caller sees; a cached score computed from others is not used. */
  memoryVersion: number;
  contextVersion: number;
}

/** One page of a context's memories, newest first, as the list sequence `listVersion` has it. */
export interface MemoryPageKey {
  ownerId: string;
  contextId: string;
  listVersion: number;
  afterId: string | null;
  /** Rows to fetch: the page size plus one to tell whether more exist. */
  limit: number;
  filter: MemoryFilterValues;
}

/** A cached page: the ids in order, and when its first memory expires (ms since 1970), if any does. */
export interface MemoryPage {
  listVersion: number;
  ids: string[];
  liveUntil: number | null;
}

/** What a page asks besides its context: pages of several contexts asking the same share a statement. */
const pageArgs = (key: MemoryPageKey) => JSON.stringify([key.afterId, key.limit, key.filter]);

/** The arguments of a page, hashed into its cache key (tags and kinds make them long). */
const pageArgsHash = (key: MemoryPageKey) => createHash('sha256').update(pageArgs(key)).digest('base64url');

export interface SessionWithUser {
  session: SessionRow;
  user: UserRow;
}

export interface ApiKeyWithUser {
  apiKey: ApiKeyRow;
  user: UserRow;
}

/**
 * The batched, cache-aside reads of each entity, shared by every request of the app. Per-request
 * DataLoaders (create-loaders.ts) sit on top of these. `sealer` seals the kinds that carry
 * credentials or personal data once they leave the process (Redis); without it they are stored
 * as they are.
 */
export function createCachedSources(deps: { config: Config; db: Database; clock: Clock; logger: Logger; cache: Cache; sealer?: Sealer }) {
  const { config, db, clock, cache } = deps;
  const { keys } = cache;
  const logger = deps.logger.child({ component: 'cache' });
  const notFoundTtlMs = config.CACHE_TTL_NOT_FOUND_SECONDS * 1000;
  const defaultTtlMs = config.CACHE_TTL_DEFAULT_SECONDS * 1000;

  const users = createCacheAside<string, UserRow>(cache, clock, logger, {
    kind: 'user',
    keyOf: keys.user,
    load: async (ids) => byId(ids, await findUsersByIds(db, ids)),
    versionOf: (user) => user.version,
    ttlMs: () => defaultTtlMs,
    notFoundTtlMs,
    // Emails and names are no one's business who can read Redis.
    sealer: deps.sealer,
  });

  const contexts = createCacheAside<string, ContextRow>(cache, clock, logger, {
    kind: 'context',
    keyOf: keys.context,
    load: async (ids) => byId(ids, await findContextsByIds(db, ids)),
    versionOf: contextCacheVersion,
    ttlMs: () => defaultTtlMs,
    notFoundTtlMs,
  });

  const isLive = (memory: MemoryRow) => memory.expiresAt === null || memory.expiresAt > clock.now();
  const memories = createCacheAside<string, MemoryRow>(cache, clock, logger, {
    kind: 'memory',
    keyOf: keys.memory,
    load: async (ids) => byId(ids, await findMemoriesByIds(db, ids, clock.now())),
    versionOf: (memory) => memory.version,
    // A memory that expires is never served past its expiry, from any tier.
    ttlMs: (memory) =>
      Math.min(config.CACHE_TTL_MEMORY_SECONDS * 1000, memory.expiresAt ? memory.expiresAt.getTime() - clock.now().getTime() : Infinity),
    usable: isLive,
    notFoundTtlMs,
  });

  /**
   * Pages hold ids only: the rows come from the memory entries (which the page's load fills), so
   * a purge or write-through of one memory reaches every page that shows it. A page is exact for
   * its list sequence: any write to the context's memories raises it, and the page is read from
   * PostgreSQL after the sequence was (so it holds every write up to it). Only expiry changes a
   * page without a write, so a page is used only until its first memory expires.
   */
  const memoryPages = createCacheAside<MemoryPageKey, MemoryPage>(cache, clock, logger, {
    kind: 'memory-page',
    keyOf: (key) => keys.memoryPage(key.ownerId, key.contextId, key.listVersion, pageArgsHash(key)),
    load: async (pageKeys, read) => {
      const now = clock.now();
      const pages = new Map<MemoryPageKey, MemoryPage>();
      for (const group of groupBy(pageKeys, pageArgs).values()) {
        const { afterId, limit, filter } = group[0]!;
        const rows = await pageMemoriesOfContexts(db, group.map((key) => key.contextId), { afterId, limit, filter }, now);
        await cache.entities.fill(rows.map((row) => memories.entry(row.id, row)), read);
        const byContext = groupBy(rows, (row) => row.contextId);
        for (const key of group) {
          const page = byContext.get(key.contextId) ?? [];
          const expiries = page.flatMap((row) => (row.expiresAt ? [row.expiresAt.getTime()] : []));
          pages.set(key, { listVersion: key.listVersion, ids: page.map((row) => row.id), liveUntil: expiries.length > 0 ? Math.min(...expiries) : null });
        }
      }
      return pageKeys.map((key) => pages.get(key)!);
    },
    versionOf: (page) => page.listVersion,
    ttlMs: (page) => Math.min(config.CACHE_TTL_MEMORY_SECONDS * 1000, page.liveUntil === null ? Infinity : page.liveUntil - clock.now().getTime()),
    usable: (page) => page.liveUntil === null || page.liveUntil > clock.now().getTime(),
    notFoundTtlMs,
  });

  const sessions = createCacheAside<string, SessionWithUser>(cache, clock, logger, {
    kind: 'session',
    keyOf: keys.session,
    sealer: deps.sealer,
    load: async (hashes) => {
      const found = new Map((await findSessionsByTokenHashes(db, hashes)).map((row) => [row.session.tokenHash, row]));
      return hashes.map((hash) => found.get(hash) ?? null);
    },
    // Each write-back of last_seen_at makes a newer copy.
    versionOf: ({ session }) => session.lastSeenAt.getTime(),
    ttlMs: ({ session }) =>
      Math.min(config.CACHE_TTL_SESSION_SECONDS * 1000, session.expiresAt.getTime() - clock.now().getTime()),
    notFoundTtlMs,
  });

  const apiKeys = createCacheAside<string, ApiKeyWithUser>(cache, clock, logger, {
    kind: 'apikey',
    keyOf: keys.apiKey,
    load: async (hashes) => {
      const found = new Map((await findApiKeysBySecretHashes(db, hashes)).map((row) => [row.apiKey.secretHash, row]));
      return hashes.map((hash) => found.get(hash) ?? null);
    },
    // Each write-back of last_used_at makes a newer copy.
    versionOf: ({ apiKey }) => (apiKey.lastUsedAt ?? apiKey.createdAt).getTime(),
    ttlMs: ({ apiKey }) => Math.min(defaultTtlMs, apiKey.expiresAt ? apiKey.expiresAt.getTime() - clock.now().getTime() : Infinity),
    notFoundTtlMs,
    sealer: deps.sealer,
  });

  const scoreTtlMs = config.CACHE_TTL_SCORE_SECONDS * 1000;
  const scores = createCacheAside<ScoreKey, RelevanceScoreModel>(cache, clock, logger, {
    kind: 'score',
    keyOf: (key) => keys.score(key.userId, key.contextId, key.memoryId),
    variantOf: (key) => `${key.memoryVersion}.${key.contextVersion}`,
    load: async (scoreKeys) => {
      const at = clock.now();
      const results: Array<RelevanceScoreModel | null> = [];
      for (const [userId, group] of groupBy(scoreKeys.map((key, index) => ({ key, index })), (entry) => entry.key.userId)) {
        const rows = await scoreAgainstContexts(
          db,
          { userId, at, params: scoreParams(config.RELEVANCE_RECENCY_HALF_LIFE_HOURS) },
          group.map(({ key }) => key),
        );
        const found = new Map(rows.map((row) => [`${row.contextId}:${row.memoryId}`, row]));
        for (const { key, index } of group) {
          const row = found.get(`${key.contextId}:${key.memoryId}`);
          results[index] = row
            ? {
                id: relevanceScoreId(userId, key.contextId, key.memoryId),
                userId,
                contextId: key.contextId,
                memoryId: key.memoryId,
                memoryVersion: row.memoryVersion,
                contextVersion: row.contextVersion,
                score: row.score,
                breakdown: breakdownOf(row),
                computedAt: at,
              }
            : null;
        }
      }
      return results;
    },
    // Both versions only grow, so their sum grows with any write to either.
    versionOf: (score) => score.memoryVersion + score.contextVersion,
    usable: (score, key) => score.memoryVersion === key.memoryVersion && score.contextVersion === key.contextVersion,
    ttlMs: () => scoreTtlMs,
    refreshAfterMs: scoreTtlMs - config.CACHE_SCORE_STALE_SECONDS * 1000,
    leaseMs: config.CACHE_SCORE_LEASE_MS,
    notFoundTtlMs,
  });

  return { users, contexts, memories, memoryPages, sessions, apiKeys, scores };
}

export type CachedSources = ReturnType<typeof createCachedSources>;
