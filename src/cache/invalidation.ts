import { encodeEnvelope } from './envelope.js';
import type { CacheWrite } from './store.js';

/**
 * How long a tombstone outlives the write that left it. It only has to outlast readers that
 * fetched the old row before the write committed; a PostgreSQL statement is cut off after
 * DATABASE_STATEMENT_TIMEOUT_MS, far sooner.
 */
export const TOMBSTONE_TTL_MS = 60_000;

/** The entity was written at `version`: drop cached copies and keep older ones from coming back. */
export function stale(key: string, version: number, now: Date): CacheWrite {
  return {
    key,
    value: encodeEnvelope({ state: 't', version, writtenAt: now.getTime(), value: null }),
    version,
    ttlMs: TOMBSTONE_TTL_MS,
  };
}

/** The entity is gone for good as of `version`: answer "not found" from the cache. */
export function gone(key: string, version: number, now: Date, ttlMs = TOMBSTONE_TTL_MS): CacheWrite {
  return {
    key,
    value: encodeEnvelope({ state: 'n', version, writtenAt: now.getTime(), value: null }),
    version,
    ttlMs,
  };
}
