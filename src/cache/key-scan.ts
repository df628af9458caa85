import type { Redis } from 'ioredis';
import type { CacheKeys } from './keys.js';
import { readRedisStats } from './redis-info.js';

/**
 * Operations over the keys under a deployment's prefix, for admins (cacheStats, the CLI):
 * always SCAN (never KEYS), always under the prefix, with the work capped.
 */

/** SCAN's COUNT hint: keys looked at per round trip. */
const SCAN_COUNT = 1000;

/** Calls back with how many keys have been looked at so far (a progress bar). */
export type OnProgress = (scanned: number) => void;

/** Glob-escapes the prefix, so that a pattern under it can never match outside it. */
const underPrefix = (prefix: string, pattern: string) => `${prefix.replace(/[*?[\]\\]/g, '\\$&')}${pattern}`;

/** The keys under the prefix that match `pattern` (a SCAN MATCH glob, applied after the prefix), in batches. */
export async function* scanUnder(client: Redis, prefix: string, pattern = '*'): AsyncGenerator<string[]> {
  const stream = client.scanStream({ match: underPrefix(prefix, pattern), count: SCAN_COUNT });
  // The prefix is literal in MATCH, so this only guards against a server that matched otherwise.
  for await (const batch of stream as AsyncIterable<string[]>) yield batch.filter((key) => key.startsWith(prefix));
}

/** A key's kind: the first part of its name after the prefix (`memory`, `response`, `rate`, `log`…). */
export function kindOfKey(keys: CacheKeys, key: string): string {
  const rest = key.slice(keys.prefix.length);
  const at = rest.indexOf(':');
  return at < 0 ? rest : rest.slice(0, at);
}

export interface KeyCounts {
  counts: Array<{ kind: string; count: number }>;
  scanned: number;
  /** False when the scan stopped at `maxKeys`: the counts are a sample. */
  complete: boolean;
}

/** Counts the keys under the prefix by kind, looking at no more than `maxKeys`. */
export async function countKeysByKind(client: Redis, keys: CacheKeys, options: { maxKeys: number; onProgress?: OnProgress }): Promise<KeyCounts> {
  const counts = new Map<string, number>();
  let scanned = 0;
  for await (const batch of scanUnder(client, keys.prefix)) {
    for (const key of batch) {
      const kind = kindOfKey(keys, key);
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    scanned += batch.length;
    options.onProgress?.(scanned);
    if (scanned >= options.maxKeys) return { counts: sorted(counts), scanned, complete: false };
  }
  return { counts: sorted(counts), scanned, complete: true };
}

const sorted = (counts: Map<string, number>) => [...counts].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));

export type TopKeyMethod = 'OBJECT_FREQ' | 'MEMORY_USAGE';

export interface TopKeys {
  /** OBJECT_FREQ (the LFU counter, under an LFU maxmemory-policy) or MEMORY_USAGE (bytes, under any other). */
  method: TopKeyMethod;
  keys: Array<{ key: string; kind: string; score: number }>;
  scanned: number;
  complete: boolean;
}

/**
 * The keys with the highest access frequency (OBJECT FREQ, which Redis keeps only under an LFU
 * policy) or, under any other policy, the largest (MEMORY USAGE): Redis keeps no access count
 * then. Looks at no more than `maxKeys` keys; `kind` narrows the scan to one kind.
 */
export async function findTopKeys(
  client: Redis,
  keys: CacheKeys,
  options: { kind?: string; limit: number; maxKeys: number; onProgress?: OnProgress },
): Promise<TopKeys> {
  const { maxmemoryPolicy } = await readRedisStats(client);
  const method: TopKeyMethod = maxmemoryPolicy.includes('lfu') ? 'OBJECT_FREQ' : 'MEMORY_USAGE';
  const top: TopKeys['keys'] = [];
  let scanned = 0;
  let complete = true;
  for await (const batch of scanUnder(client, keys.prefix, options.kind ? `${options.kind}:*` : '*')) {
    const pipeline = client.pipeline();
    for (const key of batch) {
      if (method === 'OBJECT_FREQ') pipeline.object('FREQ', key);
      else pipeline.memory('USAGE', key);
    }
    const replies = (await pipeline.exec()) ?? [];
    batch.forEach((key, index) => {
      const [error, reply] = replies[index] ?? [null, null];
      // A key that expired between SCAN and the lookup answers nil (or an error): skipped.
      if (!error && reply !== null) top.push({ key: key.slice(keys.prefix.length), kind: kindOfKey(keys, key), score: Number(reply) });
    });
    top.sort((a, b) => b.score - a.score);
    top.length = Math.min(top.length, options.limit);
    scanned += batch.length;
    options.onProgress?.(scanned);
    if (scanned >= options.maxKeys) {
      complete = false;
      break;
    }
  }
  return { method, keys: top, scanned, complete };
}

/**
 * Keys `clear` leaves: the guards of exactness. Positions refuse stale stores and fills, and tag
 * sets are how an invalidation finds the responses to drop; without them a response cached
 * before a write could be served after it. They hold no data and expire on their own.
 */
const GUARD_KINDS = new Set(['entity-pos', 'response-pos', 'response-tag']);

export interface Cleared {
  matched: number;
  /** Keys unlinked (0 with dryRun). */
  deleted: number;
  /** Guard keys that matched and were left (see GUARD_KINDS). */
  kept: number;
  /** The first matched keys, without the prefix, to show what a dry run would delete. */
  sample: string[];
}

/** SCAN + UNLINK of the keys under the prefix that match `pattern` (applied after the prefix), guards excepted. */
export async function clearUnder(
  client: Redis,
  keys: CacheKeys,
  pattern: string,
  options: { dryRun?: boolean; onProgress?: OnProgress; sampleSize?: number } = {},
): Promise<Cleared> {
  const result: Cleared = { matched: 0, deleted: 0, kept: 0, sample: [] };
  let scanned = 0;
  for await (const batch of scanUnder(client, keys.prefix, pattern)) {
    const doomed = batch.filter((key) => !GUARD_KINDS.has(kindOfKey(keys, key)));
    result.kept += batch.length - doomed.length;
    result.matched += doomed.length;
    for (const key of doomed.slice(0, Math.max(0, (options.sampleSize ?? 20) - result.sample.length))) result.sample.push(key.slice(keys.prefix.length));
    if (!options.dryRun && doomed.length > 0) result.deleted += await client.unlink(...doomed);
    scanned += batch.length;
    options.onProgress?.(scanned);
  }
  return result;
}

/** Whether the prefix holds Recall's data: its invalidation log, which every Recall with Redis writes at start. */
export async function holdsRecallData(client: Redis, keys: CacheKeys): Promise<boolean> {
  return (await client.exists(keys.log)) === 1;
}
