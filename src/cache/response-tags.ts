/**
 * The one builder of response tags. A cached response is tagged with the entities it shows
 * (collected by the response cache) and with the lists it read; a write's invalidation names
 * the same tags. Connections have no id of their own (their parent's id would merge pages in
 * clients' normalized caches), so the response cache cannot find a list among a response's
 * entities: the services that read one record its tag on the request (`RequestScope.dependsOn`).
 */

/** One entity (`Memory:mem_1`). */
export const entityTag = (typename: string, id: string | number) => `${typename}:${id}`;

/** Every page of a context's memories (`Context.memories`). */
export const memoryListTag = (contextId: string) => entityTag('MemoryConnection', contextId);

/** Every search over a context's memories (`searchMemories`). */
export const memorySearchTag = (contextId: string) => entityTag('MemorySearchConnection', contextId);

/** Every page of a user's contexts (`contexts`). */
export const contextListTag = (ownerId: string) => entityTag('ContextConnection', ownerId);

/** Every response cached for one viewer (responses are kept per viewer): what an admin purge of a user drops. */
export const viewerTag = (userId: string) => entityTag('Viewer', userId);
