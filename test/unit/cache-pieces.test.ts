import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createCircuitBreaker } from '../../src/cache/circuit-breaker.js';
import { decodeEnvelope, encodeEnvelope, envelopeState } from '../../src/cache/envelope.js';
import { createCacheKeys } from '../../src/cache/keys.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';

describe('envelopes', () => {
  it('round-trip values with Dates, nested JSON and their version', () => {
    const value = { id: 'mem_1', createdAt: new Date(1_700_000_000_123), metadata: { at: '2020-01-01', list: [1, { a: null }] } };
    const raw = encodeEnvelope({ state: 'v', version: 7, writtenAt: 42, value });
    expect(raw.startsWith('1|v|7|42|')).toBe(true);
    const decoded = decodeEnvelope<typeof value>(raw)!;
    expect(decoded).toEqual({ state: 'v', version: 7, writtenAt: 42, value });
    expect(decoded.value!.createdAt).toBeInstanceOf(Date);
    expect(envelopeState(raw)).toBe('v');
  });

  it('carry tombstones and "not found" without a value', () => {
    expect(decodeEnvelope(encodeEnvelope({ state: 't', version: 3, writtenAt: 1, value: null }))).toEqual({
      state: 't',
      version: 3,
      writtenAt: 1,
      value: null,
    });
    expect(envelopeState('1|n|4|1|')).toBe('n');
  });

  it('refuse other formats and garbage as unreadable (a miss)', () => {
    expect(decodeEnvelope('2|v|1|1|{}')).toBeNull();
    expect(decodeEnvelope('{"id":1}')).toBeNull();
    expect(decodeEnvelope('1|v|1|1|{not json')).toBeNull();
  });
});

describe('cache keys', () => {
  it('are built in one place under the prefix', () => {
    const keys = createCacheKeys('recall:');
    expect(keys.memory('mem_1')).toBe('recall:memory:mem_1');
    expect(keys.score('usr_1', 'ctx_1', 'mem_1')).toBe('recall:score:usr_1:ctx_1:mem_1');
    expect(keys.session('abc')).toBe('recall:session:abc');
    expect(keys.user('usr_1')).toBe('recall:user:usr_1');
    expect(keys.context('ctx_1')).toBe('recall:context:ctx_1');
    expect(keys.lease(keys.score('u', 'c', 'm'))).toBe('recall:lease:score:u:c:m');
    expect(keys.invalidationChannel).toBe('recall:invalidations');
  });
});

describe('the in-process store', () => {
  it('never replaces a value with an older version, and evicts beyond its bound', async () => {
    const store = createMemoryStore({ maxEntries: 2, tier: 'memory' });
    const put = (key: string, version: number) =>
      store.putMany([{ key, value: encodeEnvelope({ state: 'v', version, writtenAt: 0, value: { version } }), version, ttlMs: 60_000 }]);
    await put('a', 5);
    await put('a', 4);
    expect(store.readMany(['a'])[0]!.envelope?.version).toBe(5);
    await put('a', 5);
    await put('b', 1);
    await put('c', 1);
    expect(store.readMany(['a', 'b', 'c']).map((read) => read.envelope?.version ?? null)).toEqual([null, 1, 1]);
  });

  it('hands out frozen values, so that no request can change what others read', async () => {
    const store = createMemoryStore({ maxEntries: 10, tier: 'memory' });
    await store.putMany([{ key: 'k', value: encodeEnvelope({ state: 'v', version: 1, writtenAt: 0, value: { tags: ['a'] } }), version: 1, ttlMs: 60_000 }]);
    const value = store.readMany(['k'])[0]!.envelope!.value as { tags: string[] };
    expect(() => value.tags.push('b')).toThrow();
  });
});

describe('the circuit breaker', () => {
  it('opens after consecutive failures, probes, and closes once the probe and the replay succeed', async () => {
    let up = false;
    const changes: boolean[] = [];
    const breaker = createCircuitBreaker({
      failureThreshold: 3,
      probeIntervalMs: 10,
      probe: async () => {
        if (!up) throw new Error('down');
      },
      beforeClose: async () => undefined,
      onChange: (open) => changes.push(open),
      logger: pino({ level: 'silent' }),
    });
    breaker.failure();
    breaker.success();
    breaker.failure();
    breaker.failure();
    expect(breaker.isOpen).toBe(false);
    breaker.failure();
    expect(breaker.isOpen).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(breaker.isOpen).toBe(true);
    up = true;
    await expect.poll(() => breaker.isOpen).toBe(false);
    expect(changes).toEqual([true, false]);
    breaker.stop();
  });
});
