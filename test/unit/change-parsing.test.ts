import { describe, expect, it } from 'vitest';
import { parseChange } from '../../src/db/repositories/cache-outbox.js';

const base = { ownerId: 'usr_1', contextId: null, memories: [], context: null };

describe('outbox changes', () => {
  it('reads a row recorded before sessions became a list, as one ended session', () => {
    expect(parseChange({ ...base, reason: 'SESSION_ENDED', session: { id: 'ses_1', tokenHash: 'h1' } })).toEqual({
      ...base,
      reason: 'SESSION_ENDED',
      sessions: [{ id: 'ses_1', tokenHash: 'h1' }],
      user: null,
      apiKeys: [],
      contexts: [],
      resetL1: [],
      list: null,
    });
    expect(parseChange({ ...base, reason: 'MEMORIES_ADDED', session: null })).toMatchObject({ sessions: [], user: null });
  });

  it('reads the current shape, and refuses what it cannot read', () => {
    const change = {
      ...base,
      reason: 'USER_DELETED',
      sessions: [],
      user: { id: 'usr_1', version: 3, gone: true },
      apiKeys: [{ id: 'key_1', secretHash: 'h2' }],
      contexts: [],
      resetL1: [],
      list: null,
    };
    expect(parseChange(change)).toEqual(change);
    expect(parseChange({ ...change, reason: 'SOMETHING_NEW' })).toBeNull();
    expect(parseChange({ ...change, sessions: [{ id: 'ses_1' }] })).toBeNull();
  });

  it('reads an admin purge, and rows recorded before purges existed with no contexts and no tier to empty', () => {
    const purge = { ...base, reason: 'ADMIN_PURGE', sessions: [], user: null, apiKeys: [], contexts: [{ id: 'ctx_1', version: 2, gone: false }], resetL1: ['responses'], list: null };
    expect(parseChange(purge)).toEqual(purge);
    expect(parseChange({ ...purge, resetL1: ['everything'] })).toBeNull();
    expect(parseChange({ ...base, reason: 'MEMORY_UPDATED', sessions: [], user: null })).toMatchObject({ contexts: [], resetL1: [] });
  });

  it("reads a memory write's list sequence, and rows recorded before contexts had one without it", () => {
    const list = { id: 'ctx_1', version: 7, gone: false };
    expect(parseChange({ ...base, contextId: 'ctx_1', reason: 'MEMORY_DELETED', list })).toMatchObject({ list });
    expect(parseChange({ ...base, contextId: 'ctx_1', reason: 'MEMORY_DELETED' })).toMatchObject({ list: null });
  });
});
