import type { RedisHealth } from '../cache/cache.js';
import { clientError } from '../errors.js';
import { isAdmin, type RequestScope } from '../request-scope.js';
import { requireViewer } from './access.js';

/**
 * cacheStats as far as this process's own counters answer it: lookups by kind and tier, the
 * response cache and the circuit. Key counts, Redis INFO and top keys need Redis scans; they are
 * the admin work's (issue 12), and are empty (or null) here.
 */

export interface LookupStats {
  kind: string;
  tier: string;
  hits: number;
  misses: number;
  hitRatio: number | null;
}

export interface CacheStatsModel {
  lookups: LookupStats[];
  responses: { hits: number; misses: number; hitRatio: number | null; frontOk: number; frontNotModified: number };
  keys: Array<{ kind: string; count: number }>;
  redis: null;
  topKeys: Array<{ key: string; kind: string; score: number; method: string }>;
  circuit: string;
}

/** Results a cached value answered: a stale one (refreshed behind it) and a cached "not found" are answers too. */
const HIT_RESULTS: ReadonlySet<string> = new Set(['hit', 'stale', 'negative']);

const ratio = (hits: number, misses: number): number | null => (hits + misses === 0 ? null : hits / (hits + misses));

export async function cacheStats(scope: RequestScope): Promise<CacheStatsModel> {
  if (!isAdmin(requireViewer(scope))) throw clientError('FORBIDDEN', 'Only admins may read cache statistics.');
  const { cache } = scope.deps;
  const [lookups, front, health] = await Promise.all([cache.metrics.lookups.get(), cache.metrics.fastPathHits.get(), cache.health()]);

  const byTier = new Map<string, LookupStats>();
  for (const { labels, value } of lookups.values) {
    const kind = String(labels.kind);
    const tier = String(labels.tier);
    let stats = byTier.get(`${kind}|${tier}`);
    if (!stats) {
      stats = { kind, tier, hits: 0, misses: 0, hitRatio: null };
      byTier.set(`${kind}|${tier}`, stats);
    }
    if (HIT_RESULTS.has(String(labels.result))) stats.hits += value;
    else stats.misses += value;
  }
  const all = [...byTier.values()].map((stats) => ({ ...stats, hitRatio: ratio(stats.hits, stats.misses) }));
  all.sort((a, b) => a.kind.localeCompare(b.kind) || a.tier.localeCompare(b.tier));

  const responses = all.filter((stats) => stats.kind === 'response');
  const responseHits = responses.reduce((sum, stats) => sum + stats.hits, 0);
  // A response missed in L1 is looked up in Redis next: only the last tier's misses are the lookup's.
  const responseMisses = responses.filter((stats) => stats.tier !== 'l1').reduce((sum, stats) => sum + stats.misses, 0);
  const frontCount = (status: string) => front.values.filter(({ labels }) => String(labels.status) === status).reduce((sum, { value }) => sum + value, 0);

  return {
    lookups: all.filter((stats) => stats.kind !== 'response'),
    responses: {
      hits: responseHits,
      misses: responseMisses,
      hitRatio: ratio(responseHits, responseMisses),
      frontOk: frontCount('200'),
      frontNotModified: frontCount('304'),
    },
    keys: [],
    redis: null,
    topKeys: [],
    circuit: circuitOf(health),
  };
}

function circuitOf(health: RedisHealth): string {
  if (health.status === 'disabled') return 'disabled';
  return health.circuit ?? 'closed';
}
