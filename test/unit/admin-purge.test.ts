import { describe, expect, it } from 'vitest';
import { invalidationOf } from '../../src/cache/invalidation.js';
import { kindOfKey } from '../../src/cache/key-scan.js';
import { createCacheKeys } from '../../src/cache/keys.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import type { Change } from '../../src/domain/change.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/cache/envelope.js';
import { purgeTargetOf } from '../../src/services/cache-purge.js';

const keys = createCacheKeys('t:');
const now = new Date(1_700_000_000_000);
const purge: Change = {
  reason: 'ADMIN_PURGE',
  ownerId: 'usr_1',
  contextId: 'ctx_1',
  memories: [{ id: 'mem_1', version: 4, gone: false }],
  context: { id: 'ctx_1', version: 2, gone: false },
  sessions: [],
  user: null,
  apiKeys: [],
  contexts: [],
  resetL1: [],
  list: null,
};

describe('an admin purge', () => {
  it('tombstones entities at the versions the database holds, with the tags of the context and its lists', () => {
    const { writes, tags, resetL1 } = invalidationOf(purge, keys, now, 1000, 1000);
    expect(writes.map((write) => [write.key, write.version, decodeEnvelope(write.value)?.state])).toEqual([
      ['t:memory:mem_1', 4, 't'],
      ['t:context:ctx_1', 2, 't'],
    ]);
    expect(tags.sort()).toEqual(['Context:ctx_1', 'ContextConnection:usr_1', 'Memory:mem_1', 'MemoryConnection:ctx_1', 'MemorySearchConnection:ctx_1']);
    expect(resetL1).toEqual([]);
  });

  it("does not break the version guard: the next fill at the same version is kept, an older one is not", () => {
    const store = createMemoryStore({ maxEntries: 10, tier: 'l1' });
    const read = { gen: 'g', pos: 5, exact: true };
    const value = (version: number) => ({ key: 't:memory:mem_1', value: encodeEnvelope({ state: 'v', version, writtenAt: 1, value: { version } }), version, ttlMs: 1000 });
    store.fill([value(4)], read);
    store.invalidate(invalidationOf(purge, keys, now, 1000, 1000).writes, 6);
    expect(store.readMany(['t:memory:mem_1'])[0]!.envelope?.state).toBe('t');
    store.fill([value(3)], { ...read, pos: 6 });
    expect(store.readMany(['t:memory:mem_1'])[0]!.envelope?.state).toBe('t');
    store.fill([value(4)], { ...read, pos: 6 });
    expect(store.readMany(['t:memory:mem_1'])[0]!.envelope).toMatchObject({ state: 'v', version: 4 });
  });

  it("of a user drops every response cached for them, and their sessions' copies without ending them", () => {
    const change: Change = { ...purge, contextId: null, context: null, memories: [], user: { id: 'usr_1', version: 3, gone: false }, sessions: [{ id: 'ses_1', tokenHash: 'h' }] };
    const { writes, tags } = invalidationOf(change, keys, now, 1000, 1000);
    expect(tags).toEqual(expect.arrayContaining(['User:usr_1', 'Viewer:usr_1', 'ContextConnection:usr_1']));
    expect(writes.find((write) => write.key === 't:session:h')).toMatchObject({ version: Number.MAX_SAFE_INTEGER });
    expect(decodeEnvelope(writes.find((write) => write.key === 't:session:h')!.value)?.state).toBe('t');
  });

  it('names exactly one target', () => {
    expect(purgeTargetOf({ typename: 'Memory', id: 'mem_1' })).toEqual({ typename: 'Memory', id: 'mem_1' });
    expect(purgeTargetOf({ contextId: 'ctx_1' })).toEqual({ typename: 'Context', id: 'ctx_1' });
    expect(purgeTargetOf({ kind: 'response' })).toEqual({ kind: 'response' });
    expect(purgeTargetOf({ all: true })).toEqual({ all: true });
    for (const input of [{}, { all: false }, { kind: 'lease' }, { typename: 'Memory' }, { userId: 'usr_1', all: true }]) {
      expect(purgeTargetOf(input)).toMatchObject({ code: 'BAD_USER_INPUT' });
    }
  });
});

describe('key kinds', () => {
  it('are the first part of the name under the prefix', () => {
    expect(kindOfKey(keys, keys.memory('mem_1'))).toBe('memory');
    expect(kindOfKey(keys, keys.responseTag('Memory:mem_1'))).toBe('response-tag');
    expect(kindOfKey(keys, keys.log)).toBe('log');
    expect(kindOfKey(keys, keys.budget('user:usr_1', 3))).toBe('budget');
  });
});
