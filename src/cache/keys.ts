/** The kinds of cached entities; metrics and TTLs are kept per kind. */
export type CacheKind = 'memory' | 'memory-page' | 'score' | 'session' | 'user' | 'context' | 'apikey';

/** Sub-prefixes of the keys that hold cached data: what a cold start (regeneration) drops. */
const CACHE_DATA = ['memory:', 'memory-page:', 'score:', 'session:', 'user:', 'context:', 'apikey:', 'lease:', 'entity-pos:', 'response:', 'response-tag:', 'response-pos:'];

/**
 * Every Redis key and channel name Recall uses, all under one prefix so that Recall can share a
 * Redis (and an ACL can confine it to `~<prefix>*`).
 */
export function createCacheKeys(prefix: string) {
  return {
    prefix,
    memory: (id: string) => `${prefix}memory:${id}`,
    /**
     * One page of a context's memories (their ids) at one value of its list sequence, by a hash
     * of the page's arguments: a write raises the sequence, so older pages are never read again.
     * The owner's id lets an account deletion unlink them with the user's other keys.
     */
    memoryPage: (ownerId: string, contextId: string, listVersion: number, argsHash: string) =>
      `${prefix}memory-page:${ownerId}:${contextId}:${listVersion}:${argsHash}`,
    score: (userId: string, contextId: string, memoryId: string) => `${prefix}score:${userId}:${contextId}:${memoryId}`,
    session: (tokenHash: string) => `${prefix}session:${tokenHash}`,
    user: (id: string) => `${prefix}user:${id}`,
    context: (id: string) => `${prefix}context:${id}`,
    apiKey: (hash: string) => `${prefix}apikey:${hash}`,
    /** The sliding log of one field limit's calls by a caller; the caller's hash tag keeps them in its budget's Cluster slot. */
    rate: (identity: string, limit: string) => `${prefix}rate:{${identity}}:${limit}`,
    /** One fixed window of a caller's operation budget; one hash tag per caller keeps its windows in one Cluster slot. */
    budget: (identity: string, window: number | '') => `${prefix}budget:{${identity}}:${window}`,
    /**
     * The subscriptions a caller holds on every instance: a sorted set of `<instance>:<subscription>`
     * scored by lease expiry (see rate-limit/subscription-slots.ts); the hash tag keeps it Cluster-safe.
     */
    subscriptions: (identity: string) => `${prefix}subscriptions:{${identity}}`,
    /** The short lock one instance takes to compute a missing value that others then read. */
    lease: (key: string) => `${prefix}lease:${key.slice(prefix.length)}`,
    /** The log position of the latest invalidation of a cached entity: values read before it are not stored. */
    entityPosition: (key: string) => `${prefix}entity-pos:${key.slice(prefix.length)}`,
    /** A cached response, by its key. */
    response: (id: string) => `${prefix}response:${id}`,
    /** The keys of the cached responses that contain an entity (`Memory:mem_1`) or a type (`Memory`). */
    responseTag: (tag: string) => `${prefix}response-tag:${tag}`,
    /** The log position of the latest invalidation of a tag: responses computed before it are not stored. */
    responsePosition: (tag: string) => `${prefix}response-pos:${tag}`,
    /**
     * The text of an automatic persisted query, by its sha256 (hex). Not cache data: the text is
     * what the hash names, so no write or cold start makes it stale.
     */
    persistedQuery: (sha256Hash: string) => `${prefix}apq:${sha256Hash}`,
    /**
     * The invalidation log: a hash of `gen` (the generation of this Redis's cached data) and `pos`
     * (the position of the latest invalidation applied). See cache/invalidation-log.ts.
     */
    log: `${prefix}log`,
    /** Where every applied invalidation is published, in log order, for the instances' in-process tiers. */
    invalidationChannel: `${prefix}invalidations`,
    /** The capped stream of change events that subscribers on every instance follow. */
    eventStream: `${prefix}events`,
    /** Whether a key holds cached data (dropped on a cold start), rather than budgets, events or the log. */
    isCacheData: (key: string) => key.startsWith(prefix) && CACHE_DATA.some((part) => key.startsWith(part, prefix.length)),
  };
}

export type CacheKeys = ReturnType<typeof createCacheKeys>;
