/** The kinds of cached entities; metrics and TTLs are kept per kind. */
export type CacheKind = 'memory' | 'score' | 'session' | 'user' | 'context';

/**
 * Every Redis key and channel name Recall uses, all under one prefix so that Recall can share a
 * Redis (and an ACL can confine it to `~<prefix>*`).
 */
export function createCacheKeys(prefix: string) {
  return {
    prefix,
    memory: (id: string) => `${prefix}memory:${id}`,
    score: (userId: string, contextId: string, memoryId: string) => `${prefix}score:${userId}:${contextId}:${memoryId}`,
    session: (tokenHash: string) => `${prefix}session:${tokenHash}`,
    user: (id: string) => `${prefix}user:${id}`,
    context: (id: string) => `${prefix}context:${id}`,
    apiKey: (hash: string) => `${prefix}apikey:${hash}`,
    rate: (identity: string, field: string) => `${prefix}rate:${identity}:${field}`,
    /** The short lock one instance takes to compute a missing value that others then read. */
    lease: (key: string) => `${prefix}lease:${key.slice(prefix.length)}`,
    /** Where instances tell each other which in-process entries to drop. */
    invalidationChannel: `${prefix}invalidations`,
    /** The capped stream of change events that subscribers on every instance follow. */
    eventStream: `${prefix}events`,
  };
}

export type CacheKeys = ReturnType<typeof createCacheKeys>;
