import type { L1Part, RecordedChange } from '../../domain/change.js';
import type { Queryable } from '../database.js';
import { changeJson, entityJson, recordChange, RECORDED, recordedChangeOf, type RecordedColumns } from './cache-outbox.js';
import { endedApiKeyJson, endedSessionJson } from './sessions.js';

/**
 * Admin purges, recorded in the outbox like writes (reason ADMIN_PURGE), so that every instance
 * applies them, now or by replay. Each reads the versions the database holds in the same
 * statement: the purge's tombstones are at those versions, so they drop cached copies without
 * refusing the next fill (see `invalidationOf`). A purge of a context (or of a user's contexts)
 * also raises their list sequences: their cached pages, which are found by it, become
 * unreachable at once, as after a write.
 */

/** The CTE `raised`: raises the list sequence of the contexts `where` selects; their ids and new cache versions. */
const raiseListVersions = (where: string) =>
  `raised AS (UPDATE contexts SET list_version = list_version + 1 WHERE ${where} RETURNING id, owner_id, version + list_version AS version)`;

const memoriesOf = (where: string) =>
  `coalesce((SELECT jsonb_agg(${entityJson('m.id', 'm.version', false)}) FROM memories m WHERE ${where}), '[]'::jsonb)`;

async function recorded(db: Queryable, sql: string, params: unknown[]): Promise<RecordedChange | null> {
  const [row] = await db.query<RecordedColumns & { outboxId: string | null }>(sql, params);
  return row?.outboxId == null ? null : recordedChangeOf(row);
}

/** One memory; null when there is none with this id. */
export function recordMemoryPurge(db: Queryable, memoryId: string, at: Date): Promise<RecordedChange | null> {
  return recorded(
    db,
    `WITH found AS (SELECT id, version, context_id, owner_id FROM memories WHERE id = $1),
     ${recordChange(
       changeJson({ reason: 'ADMIN_PURGE', ownerId: 'w.owner_id', contextId: 'w.context_id', memories: `jsonb_build_array(${entityJson('w.id', 'w.version', false)})` }),
       'found',
       '$2',
     )}
     SELECT ${RECORDED}`,
    [memoryId, at],
  );
}

/** A context with its memories (their entries, and the lists and searches of the context); null when there is none. */
export function recordContextPurge(db: Queryable, contextId: string, at: Date): Promise<RecordedChange | null> {
  return recorded(
    db,
    `WITH ${raiseListVersions('id = $1')},
     ${recordChange(
       changeJson({
         reason: 'ADMIN_PURGE',
         ownerId: 'w.owner_id',
         contextId: 'w.id',
         context: entityJson('w.id', 'w.version', false),
         memories: memoriesOf('m.context_id = w.id'),
       }),
       'raised',
       '$2',
     )}
     SELECT ${RECORDED}`,
    [contextId, at],
  );
}

/** Everything of one user: their row, sessions, keys, contexts and memories, and every response cached for them; null when there is none. */
export function recordUserPurge(db: Queryable, userId: string, at: Date): Promise<RecordedChange | null> {
  return recorded(
    db,
    `WITH found AS (SELECT id, version FROM users WHERE id = $1),
     ${raiseListVersions('owner_id = $1')},
     ${recordChange(
       changeJson({
         reason: 'ADMIN_PURGE',
         ownerId: 'w.id',
         contextId: 'NULL',
         user: entityJson('w.id', 'w.version', false),
         contexts: `coalesce((SELECT jsonb_agg(${entityJson('c.id', 'c.version', false)}) FROM raised c), '[]'::jsonb)`,
         memories: memoriesOf('m.owner_id = w.id'),
         sessions: `coalesce((SELECT jsonb_agg(${endedSessionJson('s')}) FROM sessions s WHERE s.user_id = w.id AND s.revoked_at IS NULL), '[]'::jsonb)`,
         apiKeys: `coalesce((SELECT jsonb_agg(${endedApiKeyJson('k')}) FROM api_keys k WHERE k.user_id = w.id AND k.revoked_at IS NULL), '[]'::jsonb)`,
       }),
       'found',
       '$2',
     )}
     SELECT ${RECORDED}`,
    [userId, at],
  );
}

/**
 * A purge of whole in-process tiers on every instance (a kind, or everything): the entries in
 * Redis are dropped by the caller, which no outbox row could name. Recorded in the name of the
 * admin who asked (the `cacheInvalidated` event goes to them and to admins).
 */
export async function recordTierPurge(db: Queryable, adminId: string, parts: readonly L1Part[], at: Date): Promise<RecordedChange> {
  const change = await recorded(
    db,
    `WITH found AS (SELECT $1::text AS id),
     ${recordChange(changeJson({ reason: 'ADMIN_PURGE', ownerId: 'w.id', contextId: 'NULL', resetL1: '$3::jsonb' }), 'found', '$2')}
     SELECT ${RECORDED}`,
    [adminId, at, JSON.stringify(parts)],
  );
  return change!;
}
