import { describe, expect, it } from 'vitest';
import { spenderOf } from '../../src/admission/admission.js';
import { addressIdentity, clientIp } from '../../src/admission/client-ip.js';
import type { ApiKeyRow, SessionRow, UserRow } from '../../src/db/rows.js';
import { apiKeyViewer, responseCacheIdentity, sessionViewer } from '../../src/request-scope.js';

describe('who spends', () => {
  it('counts users by id with their tier, anonymous callers by address, and admins not at all', () => {
    const user = sessionViewer({ id: 'usr_1', role: 'USER', tier: 'PRO' } as UserRow, {} as SessionRow);
    const admin = sessionViewer({ id: 'usr_2', role: 'ADMIN', tier: 'FREE' } as UserRow, {} as SessionRow);
    expect(spenderOf(user, '10.0.0.1')).toEqual({ userId: 'usr_1', tier: 'PRO' });
    expect(spenderOf(admin, '10.0.0.1')).toBeNull();
    // An admin's key acts as an admin only with the ADMIN scope; without it, it spends the tier's budget.
    expect(spenderOf(apiKeyViewer(admin.user, { scopes: ['ADMIN', 'MEMORY_READ'] } as ApiKeyRow), '10.0.0.1')).toBeNull();
    expect(spenderOf(apiKeyViewer(admin.user, { scopes: ['MEMORY_READ'] } as ApiKeyRow), '10.0.0.1')).toEqual({ userId: 'usr_2', tier: 'FREE' });
    expect(spenderOf(null, '10.0.0.1')).toEqual({ ip: '10.0.0.1' });
    expect(spenderOf(null, null)).toEqual({ ip: 'unknown' });
  });

  it('counts an IPv6 caller by its /64, and an IPv4 one whole, mapped or not', () => {
    expect(addressIdentity('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressIdentity('2001:0db8:0001:0002:ffff::1')).toBe('2001:db8:1:2::/64');
    expect(addressIdentity('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressIdentity('::1')).toBe('0:0:0:0::/64');
    expect(addressIdentity('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressIdentity('203.0.113.7')).toBe('203.0.113.7');
  });

  it('takes the address a trusted proxy saw, and only then', () => {
    expect(clientIp(true, '198.51.100.1, 203.0.113.7', '10.0.0.1')).toBe('203.0.113.7');
    expect(clientIp(false, '203.0.113.7', '10.0.0.1')).toBe('10.0.0.1');
  });
});

describe('whose cached responses a viewer shares', () => {
  const user = { id: 'usr_1', role: 'USER', tier: 'FREE' } as UserRow;
  it("is the user's for a session and for a key holding every scope, and apart for a key lacking one", () => {
    const session = responseCacheIdentity(sessionViewer(user, {} as SessionRow));
    expect(responseCacheIdentity(apiKeyViewer(user, { scopes: ['ADMIN', 'MEMORY_WRITE', 'MEMORY_READ'] } as ApiKeyRow))).toBe(session);
    const reader = responseCacheIdentity(apiKeyViewer(user, { scopes: ['MEMORY_READ'] } as ApiKeyRow));
    const readerAndAdmin = responseCacheIdentity(apiKeyViewer(user, { scopes: ['ADMIN', 'MEMORY_READ'] } as ApiKeyRow));
    expect(new Set([session, reader, readerAndAdmin]).size).toBe(3);
    // The order a key lists its scopes in does not matter.
    expect(responseCacheIdentity(apiKeyViewer(user, { scopes: ['MEMORY_READ', 'ADMIN'] } as ApiKeyRow))).toBe(readerAndAdmin);
  });
});
