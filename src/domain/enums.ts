/**
 * The enums of Recall's model, as plain string unions. The GraphQL schema declares the same
 * values; the generated types import these (codegen `enumValues`), so services, repositories and
 * the cache never depend on generated code.
 */

export type Role = 'USER' | 'ADMIN';

/** The plan of a user: it sets the operation budget. */
export type Tier = 'FREE' | 'PRO';

export type MemoryKind = 'FACT' | 'PREFERENCE' | 'EVENT' | 'INSTRUCTION' | 'SUMMARY' | 'NOTE';

export type MemoryEventType = 'ADDED' | 'UPDATED' | 'DELETED';
