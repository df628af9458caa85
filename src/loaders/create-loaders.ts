import DataLoader from 'dataloader';
import { byId, groupBy } from '../collections.js';
import type { MemoryEventRow, MemoryRow } from '../db/rows.js';
import { findEventsByIds, findRecentEventsOfMemories } from '../db/repositories/memory-events.js';
import { findSessionsByIds } from '../db/repositories/sessions.js';
import { findApiKeysByIds } from '../db/repositories/api-keys.js';
import type { AppDeps } from '../app-deps.js';
import type { ReadPosition } from '../cache/store.js';
import type { Viewer } from '../request-scope.js';
import type { RelevanceScoreModel } from '../relevance/relevance-score.js';
import type { MemoryPageKey, ScoreKey } from './cached-sources.js';

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * One set of DataLoaders per request over the app's cache-aside sources: every entity read in
 * a request is batched per kind and tick, read through the cache at the request's read position
 * (`read` gives it as it stands when a batch runs), and memoised for the rest of the request.
 * Loaders return rows whoever owns them; callers check visibility.
 */
export function createLoaders(deps: AppDeps, viewer: Viewer | null, read: () => ReadPosition) {
  const { db, config, sources } = deps;
  const options = { maxBatchSize: config.DATALOADER_MAX_BATCH_SIZE };

  const user = new DataLoader((ids: readonly string[]) => sources.users.load(ids, read()), options);
  if (viewer) user.prime(viewer.user.id, viewer.user);
  const context = new DataLoader((ids: readonly string[]) => sources.contexts.load(ids, read()), options);
  const memory = new DataLoader((ids: readonly string[]) => sources.memories.load(ids, read()), options);

  // Pages of ids through the cache, then their rows through the memory loader (one batch for
  // every page of the tick). A memory gone since its page was read (a write or an expiry racing
  // this read) is left out.
  const memoryPage = new DataLoader<MemoryPageKey, MemoryRow[], string>(
    async (keys) => {
      const pages = await sources.memoryPages.load(keys, read());
      const rows = await memory.loadMany(pages.flatMap((page) => page!.ids));
      let next = 0;
      return pages.map((page) =>
        page!.ids.flatMap(() => {
          const row = rows[next++];
          return row && !(row instanceof Error) ? [row] : [];
        }),
      );
    },
    { ...options, cacheKeyFn: (key) => JSON.stringify(key) },
  );

  // Keyed by the page size too: `history(first: 1)` reads one event per memory, not a full page
  // (what it reads is what its cost counted).
  const memoryHistory = new DataLoader<{ memoryId: string; limit: number }, MemoryEventRow[], string>(
    async (keys) => {
      const pages = new Map<string, MemoryEventRow[]>();
      for (const [limit, group] of groupBy(keys, (key) => key.limit)) {
        const events = groupBy(await findRecentEventsOfMemories(db, group.map((key) => key.memoryId), limit), (e) => e.memoryId);
        for (const key of group) pages.set(`${key.memoryId}:${limit}`, events.get(key.memoryId) ?? []);
      }
      return keys.map((key) => pages.get(`${key.memoryId}:${key.limit}`)!);
    },
    { ...options, cacheKeyFn: (key) => `${key.memoryId}:${key.limit}` },
  );

  const relevance = new DataLoader<ScoreKey, RelevanceScoreModel | null, string>(
    async (keys) => sources.scores.load(keys, read()),
    { ...options, cacheKeyFn: (key) => `${key.userId}:${key.contextId}:${key.memoryId}:${key.memoryVersion}:${key.contextVersion}` },
  );

  // Read by id only through node(id): straight from PostgreSQL. A response showing a session or
  // an API key is never cached, and events never change.
  const session = new DataLoader(async (ids: readonly string[]) => byId(ids, await findSessionsByIds(db, ids)), options);
  if (viewer?.session) session.prime(viewer.session.id, viewer.session);
  const apiKey = new DataLoader(async (ids: readonly string[]) => byId(ids, await findApiKeysByIds(db, ids)), options);
  if (viewer?.apiKey) apiKey.prime(viewer.apiKey.id, viewer.apiKey);
  const memoryEvent = new DataLoader(async (ids: readonly string[]) => byId(ids, await findEventsByIds(db, ids)), options);

  /** After a write to a memory: pages, history and scores that include it must be read again. */
  const forgetMemory = (id: string) => {
    memory.clear(id);
    memoryHistory.clearAll();
    memoryPage.clearAll();
    relevance.clearAll();
  };

  /** After a write to a context: its row, its pages and the scores against it. */
  const forgetContext = (id: string) => {
    context.clear(id);
    memoryPage.clearAll();
    relevance.clearAll();
  };

  return { user, context, memory, memoryPage, memoryHistory, relevance, session, apiKey, memoryEvent, forgetMemory, forgetContext };
}

