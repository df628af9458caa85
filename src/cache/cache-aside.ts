import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { parseWithDates, stringifyWithDates } from '../json-dates.js';
import { bindHistogram, type BoundCounter } from '../observability/bound-labels.js';
import type { Cache } from './cache.js';
import { deepFreeze } from './deep-freeze.js';
import { encodeEnvelope, type Envelope } from './envelope.js';
import type { CacheKind } from './keys.js';
import type { Sealer } from './sealer.js';
import type { CacheTier, CacheWrite, ReadPosition, TierTimings } from './store.js';

export interface CacheAsideSpec<K, V> {
  kind: CacheKind;
  keyOf(key: K): string;
  /**
   * One batched read of the source (PostgreSQL) for the keys the cache could not answer; `read`
   * is the position of the read it serves (for filling other kinds it reads along the way).
   */
  load(keys: readonly K[], read: ReadPosition): Promise<Array<V | null>>;
  /** The entity version a value carries; a cached value never replaces a higher one. */
  versionOf(value: V): number;
  ttlMs(value: V): number;
  notFoundTtlMs: number;
  /** Whether a cached value may answer this key (not expired, computed from the same versions…). */
  usable?(value: V, key: K): boolean;
  /** Past this age a value is still served, and refreshed in the background (stale-while-revalidate). */
  refreshAfterMs?: number;
  /** Before loading a miss, take a lease across instances; instances without it wait for the result. */
  leaseMs?: number;
  /**
   * What besides the cache key a load depends on (e.g. the versions a score is computed from),
   * so that only loads of the same variant are shared.
   */
  variantOf?(key: K): string;
  /**
   * Seals each value under its cache key before it is stored (only the envelope's payload: its
   * version stays plain for the write guard). A value that does not open is a counted miss
   * (`recall_cache_unreadable_total`), reloaded and rewritten. Default: stored as plain JSON.
   */
  sealer?: Sealer;
}

const LEASE_POLL_MS = 20;

/**
 * Reads through the cache: the tiers the read's position allows, one MGET, one batched load of
 * the misses, one pipelined guarded fill. Concurrent misses of one key in this process share a
 * single load (when it began no earlier than the joining read); "not found" is cached briefly.
 */
export interface CacheAside<K, V> {
  /** A DataLoader batch function for one request, which began at `read`. */
  load(keys: readonly K[], read: ReadPosition): Promise<Array<V | null>>;
  /** The cache write that stores `value` for `key`, for writing it through after a write. */
  entry(key: K, value: V): CacheWrite;
  /** Stores a value just read or written by this request (guarded like any fill). */
  remember(key: K, value: V, read: ReadPosition): Promise<void>;
}

export function createCacheAside<K, V>(cache: Cache, clock: Clock, logger: Logger, spec: CacheAsideSpec<K, V>): CacheAside<K, V> {
  // Children bound once per tier (and result), as a lookup is counted and timed on every read of every request.
  type Result = 'hit' | 'miss' | 'stale' | 'negative';
  const counters = new Map<string, Map<Result, BoundCounter>>();
  const count = (tier: string, result: Result, n = 1) => {
    let byResult = counters.get(tier);
    if (!byResult) counters.set(tier, (byResult = new Map()));
    let counter = byResult.get(result);
    if (!counter) byResult.set(result, (counter = cache.metrics.lookups.bind({ kind: spec.kind, tier, result })));
    counter.inc(n);
  };
  const durations = new Map<CacheTier, { observe(seconds: number): void }>();
  const timings: TierTimings = (tier, seconds) => {
    let duration = durations.get(tier);
    if (!duration) durations.set(tier, (duration = bindHistogram(cache.metrics.lookupDuration, { kind: spec.kind, tier })));
    duration.observe(seconds);
  };
  const refreshing = new Set<string>();
  const { sealer } = spec;

  /** A sealed value is stored as the JSON string of its seal. */
  const encode = (key: string, value: V | null, writtenAt: number): CacheWrite =>
    value === null
      ? { key, value: encodeEnvelope({ state: 'n', version: 0, writtenAt, value: null }), version: 0, ttlMs: spec.notFoundTtlMs }
      : {
          key,
          value: encodeEnvelope({
            state: 'v',
            version: spec.versionOf(value),
            writtenAt,
            value: sealer ? sealer.seal(stringifyWithDates(value), key) : value,
          }),
          version: spec.versionOf(value),
          ttlMs: Math.max(1, spec.ttlMs(value)),
        };

  // Opened once per envelope object: the in-process tiers keep theirs, so their hits decrypt nothing.
  const opened = new WeakMap<Envelope<unknown>, V | null>();
  /** The value an envelope holds, or null where its seal does not open (or it was stored unsealed). */
  const valueOf = (envelope: Envelope<unknown>, key: string): V | null => {
    if (!sealer) return envelope.value as V;
    let value = opened.get(envelope);
    if (value === undefined) {
      const json = typeof envelope.value === 'string' ? sealer.open(envelope.value, key) : null;
      // Shared by every request that hits this envelope, like the in-process tiers' own values.
      value = json === null ? null : deepFreeze(parseWithDates<V>(json));
      opened.set(envelope, value);
    }
    return value;
  };

  const loadAndStore = async (keys: readonly K[], cacheKeys: readonly string[], read: ReadPosition): Promise<Array<V | null>> => {
    if (keys.length === 0) return [];
    cache.metrics.loads.inc({ kind: spec.kind }, keys.length);
    const stop = cache.metrics.lookupDuration.startTimer({ kind: spec.kind, tier: 'database' });
    const values = await spec.load(keys, read).finally(stop);
    const writtenAt = clock.now().getTime();
    await cache.entities.fill(values.map((value, index) => encode(cacheKeys[index]!, value, writtenAt)), read);
    return values;
  };

  /** Answers from the cache where it can; `undefined` marks what it could not answer. */
  const readCached = async (keys: readonly K[], cacheKeys: readonly string[], read: ReadPosition, countAs = true) => {
    const reads = await cache.entities.read(cacheKeys, read, timings);
    const now = clock.now().getTime();
    const stale: number[] = [];
    const values = reads.map(({ envelope, tier }, index): V | null | undefined => {
      if (envelope?.state === 'n') {
        if (countAs) count(tier!, 'negative');
        return null;
      }
      if (envelope?.state === 'v') {
        const value = valueOf(envelope, cacheKeys[index]!);
        if (value === null) {
          if (countAs) cache.metrics.unreadable.inc({ kind: spec.kind });
        } else if (spec.usable?.(value, keys[index]!) ?? true) {
          const old = spec.refreshAfterMs !== undefined && now - envelope.writtenAt > spec.refreshAfterMs;
          if (old) stale.push(index);
          if (countAs) count(tier!, old ? 'stale' : 'hit');
          return value;
        }
      }
      if (countAs) count(tier ?? 'any', 'miss');
      return undefined;
    });
    return { values, stale };
  };

  const refreshInBackground = (keys: readonly K[], cacheKeys: readonly string[], read: ReadPosition) => {
    const fresh = cacheKeys.map((key, index) => [key, keys[index]!] as const).filter(([key]) => !refreshing.has(key));
    if (fresh.length === 0) return;
    for (const [key] of fresh) refreshing.add(key);
    loadAndStore(
      fresh.map(([, key]) => key),
      fresh.map(([key]) => key),
      read,
    )
      .catch((error: unknown) => logger.warn({ err: error, kind: spec.kind }, 'background refresh failed'))
      .finally(() => {
        for (const [key] of fresh) refreshing.delete(key);
      });
  };

  /** Loads misses under leases; keys leased elsewhere are read from the cache once ready. */
  const loadMisses = async (keys: readonly K[], cacheKeys: readonly string[], read: ReadPosition): Promise<Array<V | null>> => {
    if (spec.leaseMs === undefined) return loadAndStore(keys, cacheKeys, read);
    const leaseKeys = cacheKeys.map((key) => cache.keys.lease(key));
    const granted = await cache.acquireLeases(leaseKeys, spec.leaseMs);
    const mine = granted.flatMap((ok, index) => (ok ? [index] : []));
    const theirs = granted.flatMap((ok, index) => (ok ? [] : [index]));
    const out: Array<V | null> = new Array(keys.length).fill(null);
    try {
      const loaded = await loadAndStore(mine.map((i) => keys[i]!), mine.map((i) => cacheKeys[i]!), read);
      mine.forEach((i, j) => (out[i] = loaded[j]!));
    } finally {
      await cache.releaseLeases(mine.map((i) => leaseKeys[i]!));
    }
    let waiting = theirs;
    const deadline = Date.now() + spec.leaseMs;
    while (waiting.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
      const { values } = await readCached(waiting.map((i) => keys[i]!), waiting.map((i) => cacheKeys[i]!), read, false);
      waiting = waiting.filter((i, j) => {
        if (values[j] === undefined) return true;
        out[i] = values[j]!;
        return false;
      });
    }
    // The holder did not deliver in time (it may have died): load the rest ourselves.
    const late = await loadAndStore(waiting.map((i) => keys[i]!), waiting.map((i) => cacheKeys[i]!), read);
    waiting.forEach((i, j) => (out[i] = late[j]!));
    return out;
  };

  /** Loads the misses; concurrent misses of one key share one load (see `cache.inflight`). */
  const loadShared = async (keys: readonly K[], cacheKeys: readonly string[], read: ReadPosition): Promise<Array<V | null>> => {
    const flightKeys = keys.map((key, index) => (spec.variantOf ? `${cacheKeys[index]}#${spec.variantOf(key)}` : cacheKeys[index]!));
    const shared = new Map<string, Promise<V | null>>();
    const ownKeys: K[] = [];
    const ownCacheKeys: string[] = [];
    const ownFlightKeys: string[] = [];
    const settle = new Map<string, { resolve(value: V | null): void; reject(error: unknown): void }>();

    flightKeys.forEach((flightKey, index) => {
      if (shared.has(flightKey)) return;
      const running = cache.inflight.join(flightKey, read) as Promise<V | null> | undefined;
      if (running) {
        shared.set(flightKey, running);
        return;
      }
      const promise = new Promise<V | null>((resolve, reject) => settle.set(flightKey, { resolve, reject }));
      promise.catch(() => undefined); // rejections reach the callers through Promise.all below
      shared.set(flightKey, promise);
      cache.inflight.start(flightKey, promise, read);
      ownKeys.push(keys[index]!);
      ownCacheKeys.push(cacheKeys[index]!);
      ownFlightKeys.push(flightKey);
    });

    try {
      const values = await loadMisses(ownKeys, ownCacheKeys, read);
      ownFlightKeys.forEach((flightKey, index) => settle.get(flightKey)!.resolve(values[index]!));
    } catch (error) {
      for (const flightKey of ownFlightKeys) settle.get(flightKey)!.reject(error);
    } finally {
      for (const flightKey of ownFlightKeys) cache.inflight.finish(flightKey, shared.get(flightKey)!);
    }
    return Promise.all(flightKeys.map((flightKey) => shared.get(flightKey)!));
  };

  /** The cache first (hits cost no single-flight bookkeeping), then one shared load of the misses. */
  const load = async (keys: readonly K[], read: ReadPosition): Promise<Array<V | null>> => {
    const cacheKeys = keys.map((key) => spec.keyOf(key));
    const { values, stale } = await readCached(keys, cacheKeys, read);
    const missing = values.flatMap((value, index) => (value === undefined ? [index] : []));
    if (missing.length > 0) {
      const loaded = await loadShared(missing.map((i) => keys[i]!), missing.map((i) => cacheKeys[i]!), read);
      missing.forEach((i, j) => (values[i] = loaded[j]!));
    }
    if (stale.length > 0) refreshInBackground(stale.map((i) => keys[i]!), stale.map((i) => cacheKeys[i]!), read);
    return values as Array<V | null>;
  };

  const entry = (key: K, value: V): CacheWrite => encode(spec.keyOf(key), value, clock.now().getTime());
  return {
    load,
    entry,
    async remember(key, value, read) {
      await cache.entities.fill([entry(key, value)], read);
    },
  };
}
