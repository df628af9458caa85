import DataLoader from 'dataloader';
import type { AppDeps, Viewer } from '../graphql-context.js';
import type { ContextRow, MemoryEventRow, MemoryRow, UserRow } from '../db/rows.js';
import { findContextsByIds } from '../db/repositories/contexts.js';
import { findRecentEventsOfMemories } from '../db/repositories/memory-events.js';
import { findMemoriesByIds, pageMemoriesOfContexts, type MemoryFilterValues } from '../db/repositories/memories.js';
import { scoreAgainstContexts } from '../db/repositories/relevance.js';
import { findUsersByIds } from '../db/repositories/users.js';
import { relevanceScoreId, type RelevanceScoreModel } from '../relevance/relevance-score.js';
import { breakdownOf, scoreParams } from '../relevance/score-params.js';
import { groupBy } from '../collections.js';

export interface MemoryPageKey {
  contextId: string;
  afterId: string | null;
  /** Rows to fetch: the page size plus one to tell whether more exist. */
  limit: number;
  filter: MemoryFilterValues;
}

export interface RelevanceKey {
  contextId: string;
  memoryId: string;
}

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * One set of DataLoaders per request: every entity read in a request is batched into one
 * statement per entity kind and tick, and memoised for the rest of the request. Loaders return
 * rows whoever owns them; callers check visibility.
 */
export function createLoaders(deps: AppDeps, viewer: Viewer | null) {
  const { db, clock, config } = deps;
  const options = { maxBatchSize: config.DATALOADER_MAX_BATCH_SIZE };

  const user = new DataLoader<string, UserRow | null>(
    async (ids) => byId(ids, await findUsersByIds(db, ids)),
    options,
  );
  if (viewer) user.prime(viewer.user.id, viewer.user);

  const context = new DataLoader<string, ContextRow | null>(
    async (ids) => byId(ids, await findContextsByIds(db, ids)),
    options,
  );

  const memory = new DataLoader<string, MemoryRow | null>(
    async (ids) => byId(ids, await findMemoriesByIds(db, ids, clock.now())),
    options,
  );

  const memoryPage = new DataLoader<MemoryPageKey, MemoryRow[], string>(
    async (keys) => {
      // Keys asking for the same page of different contexts share one statement.
      const groups = groupBy(keys, (key) => JSON.stringify([key.afterId, key.limit, key.filter]));
      const pages = new Map<MemoryPageKey, MemoryRow[]>();
      for (const group of groups.values()) {
        const { afterId, limit, filter } = group[0]!;
        const rows = await pageMemoriesOfContexts(db, group.map((key) => key.contextId), { afterId, limit, filter }, clock.now());
        for (const row of rows) memory.prime(row.id, row);
        const byContext = groupBy(rows, (row) => row.contextId);
        for (const key of group) pages.set(key, byContext.get(key.contextId) ?? []);
      }
      return keys.map((key) => pages.get(key)!);
    },
    { ...options, cacheKeyFn: (key) => JSON.stringify(key) },
  );

  const memoryHistory = new DataLoader<string, MemoryEventRow[]>(async (ids) => {
    const events = groupBy(await findRecentEventsOfMemories(db, ids, config.MAX_PAGE_SIZE), (e) => e.memoryId);
    return ids.map((id) => events.get(id) ?? []);
  }, options);

  const relevance = new DataLoader<RelevanceKey, RelevanceScoreModel | null, string>(
    async (keys) => {
      if (!viewer) return keys.map(() => null);
      const userId = viewer.user.id;
      const at = clock.now();
      const rows = await scoreAgainstContexts(
        db,
        { userId, at, params: scoreParams(config.RELEVANCE_RECENCY_HALF_LIFE_HOURS) },
        keys,
      );
      const found = new Map(rows.map((row) => [`${row.contextId}:${row.memoryId}`, row]));
      return keys.map(({ contextId, memoryId }) => {
        const row = found.get(`${contextId}:${memoryId}`);
        if (!row) return null;
        const id = relevanceScoreId(userId, contextId, memoryId);
        return { id, userId, contextId, memoryId, score: row.score, breakdown: breakdownOf(row), computedAt: at };
      });
    },
    { ...options, cacheKeyFn: (key) => `${key.contextId}:${key.memoryId}` },
  );

  /** After a write to a memory: pages, history and scores that include it must be read again. */
  const forgetMemory = (id: string) => {
    memory.clear(id);
    memoryHistory.clear(id);
    memoryPage.clearAll();
    relevance.clearAll();
  };

  /** After a write to a context: its row, its pages and the scores against it. */
  const forgetContext = (id: string) => {
    context.clear(id);
    memoryPage.clearAll();
    relevance.clearAll();
  };

  return { user, context, memory, memoryPage, memoryHistory, relevance, forgetMemory, forgetContext };
}

function byId<Row extends { id: string }>(ids: readonly string[], rows: readonly Row[]): Array<Row | null> {
  const found = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => found.get(id) ?? null);
}
