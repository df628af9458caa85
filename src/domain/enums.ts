/**
 * The enums of Recall's model, as plain string unions, so that services, repositories and the
 * cache never depend on generated code. The GraphQL schema declares the same values; a type
 * test (test/unit/domain-enums.test.ts) holds the generated types to these.
 */

export type Role = 'USER' | 'ADMIN';

/** The plan of a user: it sets the operation budget. */
export type Tier = 'FREE' | 'PRO';

export type MemoryKind = 'FACT' | 'PREFERENCE' | 'EVENT' | 'INSTRUCTION' | 'SUMMARY' | 'NOTE';

export type MemoryEventType = 'ADDED' | 'UPDATED' | 'DELETED';

/** What an API key may do: read memories and contexts, write them, manage keys and sessions (and act as an admin, if its user is one). */
export type ApiKeyScope = 'MEMORY_READ' | 'MEMORY_WRITE' | 'ADMIN';

export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['MEMORY_READ', 'MEMORY_WRITE', 'ADMIN'];
