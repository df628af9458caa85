import type { Cache } from '../cache/cache.js';
import { countKeysByKind, findTopKeys, type KeyCounts, type OnProgress, type TopKeys } from '../cache/key-scan.js';
import { readRedisStats, type RedisMemoryStats } from '../cache/redis-info.js';
import { clientError } from '../errors.js';
import { isAdmin, type RequestScope } from '../request-scope.js';
import { requireViewer } from './access.js';

/** How many keys a stats scan looks at, at most: beyond it the counts are a sample. */
export const STATS_MAX_KEYS = 100_000;
const TOP_KEYS = 10;

export interface LookupStats {
  kind: string;
  tier: string;
  hits: number;
  misses: number;
  hitRatio: number | null;
}

export interface LatencyStats {
  kind: string;
  tier: string;
  /** Timed steps: a batch of entities or a response asked of the tier. */
  count: number;
  sumSeconds: number;
  meanMs: number | null;
}

export interface CacheStats {
  lookups: LookupStats[];
  latency: LatencyStats[];
  responses: { hits: number; misses: number; hitRatio: number | null; frontOk: number; frontNotModified: number };
  keys: KeyCounts['counts'];
  /** Whether `keys` counts every key under the prefix, or a sample (the scan stopped at STATS_MAX_KEYS). */
  keysComplete: boolean;
  redis: Omit<RedisMemoryStats, 'maxmemoryPolicy'> | null;
  topKeys: Array<TopKeys['keys'][number] & { method: string }>;
  circuit: 'open' | 'closed' | 'disabled';
}

const ratio = (hits: number, misses: number) => (hits + misses === 0 ? null : hits / (hits + misses));
// A cached "not found" and a stale value served while it is refreshed are answers from the cache.
const HIT_RESULTS = new Set(['hit', 'stale', 'negative']);

/** Lookups by kind and tier since this process started, from its own counters. */
async function lookupStats(cache: Cache): Promise<LookupStats[]> {
  const byTier = new Map<string, LookupStats>();
  for (const { labels, value } of (await cache.metrics.lookups.get()).values) {
    const kind = String(labels.kind);
    const tier = String(labels.tier);
    const id = `${kind}\u0000${tier}`;
    const stats = byTier.get(id) ?? { kind, tier, hits: 0, misses: 0, hitRatio: null };
    if (HIT_RESULTS.has(String(labels.result))) stats.hits += value;
    else stats.misses += value;
    byTier.set(id, stats);
  }
  return [...byTier.values()].map((stats) => ({ ...stats, hitRatio: ratio(stats.hits, stats.misses) })).sort((a, b) => a.kind.localeCompare(b.kind) || a.tier.localeCompare(b.tier));
}

/** Each tier's part of the lookups, by kind, since this process started: from its latency histogram. */
async function latencyStats(cache: Cache): Promise<LatencyStats[]> {
  const byTier = new Map<string, LatencyStats>();
  for (const { labels, value, metricName } of (await cache.metrics.lookupDuration.get()).values) {
    const part = metricName?.endsWith('_sum') ? 'sumSeconds' : metricName?.endsWith('_count') ? 'count' : null;
    if (!part) continue;
    const kind = String(labels.kind);
    const tier = String(labels.tier);
    const id = `${kind}\u0000${tier}`;
    const stats = byTier.get(id) ?? { kind, tier, count: 0, sumSeconds: 0, meanMs: null };
    stats[part] += value;
    byTier.set(id, stats);
  }
  return [...byTier.values()]
    .map((stats) => ({ ...stats, meanMs: stats.count === 0 ? null : (stats.sumSeconds / stats.count) * 1000 }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.tier.localeCompare(b.tier));
}

/** The response cache as a whole: a hit in any tier, or a miss of the last tier (Redis, or the in-process store without it). */
async function responseStats(cache: Cache, lookups: readonly LookupStats[]): Promise<CacheStats['responses']> {
  const responses = lookups.filter((stats) => stats.kind === 'response');
  const last = cache.mode === 'redis' ? 'redis' : 'memory';
  const hits = responses.reduce((sum, stats) => sum + stats.hits, 0);
  const misses = responses.find((stats) => stats.tier === last)?.misses ?? 0;
  const front = new Map((await cache.metrics.fastPathHits.get()).values.map(({ labels, value }) => [String(labels.status), value]));
  return { hits, misses, hitRatio: ratio(hits, misses), frontOk: front.get('200') ?? 0, frontNotModified: front.get('304') ?? 0 };
}

/**
 * What the caches hold and how they do. Lookups are this process's since it started; keys, Redis
 * memory and top keys are read from Redis now (null or empty without it, or while it does not
 * answer: stats never fail for Redis's sake).
 */
export async function readCacheStats(cache: Cache, options: { maxKeys?: number; topKeys?: number; onProgress?: OnProgress } = {}): Promise<CacheStats> {
  const lookups = await lookupStats(cache);
  const health = await cache.health();
  const base = {
    lookups,
    latency: await latencyStats(cache),
    responses: await responseStats(cache, lookups),
    circuit: health.status === 'disabled' ? ('disabled' as const) : (health.circuit ?? 'open'),
  };
  const client = cache.redis;
  if (!client || health.status !== 'ok') return { ...base, keys: [], keysComplete: true, redis: null, topKeys: [] };
  const maxKeys = options.maxKeys ?? STATS_MAX_KEYS;
  try {
    const [{ maxmemoryPolicy: _policy, ...redis }, counts, top] = await Promise.all([
      readRedisStats(client),
      countKeysByKind(client, cache.keys, { maxKeys, onProgress: options.onProgress }),
      findTopKeys(client, cache.keys, { limit: options.topKeys ?? TOP_KEYS, maxKeys }),
    ]);
    return { ...base, keys: counts.counts, keysComplete: counts.complete, redis, topKeys: top.keys.map((key) => ({ ...key, method: top.method })) };
  } catch {
    // Counted, like every failed cache operation; the rest of the stats still answer.
    cache.metrics.errors.inc({ tier: 'redis', operation: 'stats' });
    return { ...base, keys: [], keysComplete: false, redis: null, topKeys: [] };
  }
}

/** Admins only: `cacheStats`. */
export function cacheStats(scope: RequestScope): Promise<CacheStats> {
  if (!isAdmin(requireViewer(scope))) throw clientError('FORBIDDEN', 'Only admins may read cache statistics.');
  return readCacheStats(scope.deps.cache);
}
