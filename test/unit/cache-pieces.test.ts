import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createCircuitBreaker } from '../../src/cache/circuit-breaker.js';
import { decodeEnvelope, encodeEnvelope, envelopeState } from '../../src/cache/envelope.js';
import { createCacheKeys } from '../../src/cache/keys.js';
import { createMemoryStore } from '../../src/cache/memory-store.js';
import { createMemoryResponseStore, tagsOf } from '../../src/cache/response-store.js';
import { memoryListTag } from '../../src/cache/response-tags.js';
import type { ReadPosition } from '../../src/cache/store.js';

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
    // A cold start drops cached data, not the subscriptions callers hold.
    expect(keys.subscriptions('user:usr_1')).toBe('recall:subscriptions:{user:usr_1}');
    expect(keys.isCacheData(keys.subscriptions('user:usr_1'))).toBe(false);
  });
});

const at = (pos: number): ReadPosition => ({ gen: 'g', pos, exact: true });
const write = (key: string, version: number, state: 'v' | 't' = 'v') => ({
  key,
  value: encodeEnvelope({ state, version, writtenAt: 0, value: state === 'v' ? { version } : null }),
  version,
  ttlMs: 60_000,
});
const versions = (store: ReturnType<typeof createMemoryStore>, keys: string[]) => store.readMany(keys).map((read) => read.envelope?.version ?? null);

describe('the in-process store', () => {
  it('never replaces a value with an older version, and evicts beyond its bound', async () => {
    const store = createMemoryStore({ maxEntries: 2, tier: 'memory' });
    store.fill([write('a', 5)], at(0));
    store.fill([write('a', 4)], at(0));
    expect(versions(store, ['a'])).toEqual([5]);
    store.fill([write('a', 5)], at(0));
    store.fill([write('b', 1)], at(0));
    store.fill([write('c', 1)], at(0));
    expect(versions(store, ['a', 'b', 'c'])).toEqual([null, 1, 1]);
  });

  it('refuses a fill older than an invalidation, even once the invalidation has been evicted', () => {
    const store = createMemoryStore({ maxEntries: 2, tier: 'memory' });
    store.invalidate([write('a', 2, 't')], 7);
    store.fill([write('a', 1)], at(6));
    expect(store.readMany(['a'])[0]!.envelope?.state).toBe('t');
    // Two other entries evict the tombstone: its position becomes the floor.
    store.fill([write('b', 1), write('c', 1)], at(7));
    expect(versions(store, ['a'])).toEqual([null]);
    store.fill([write('a', 1)], at(6));
    expect(versions(store, ['a'])).toEqual([null]);
    store.fill([write('a', 2)], at(7));
    expect(versions(store, ['a'])).toEqual([2]);
  });

  it('refuses what reads that began before a reset fill in', () => {
    const store = createMemoryStore({ maxEntries: 10, tier: 'memory' });
    store.reset(10);
    store.fill([write('a', 1)], at(9));
    store.fill([write('b', 1)], at(10));
    expect(versions(store, ['a', 'b'])).toEqual([null, 1]);
  });

  it('hands out frozen values, so that no request can change what others read', async () => {
    const store = createMemoryStore({ maxEntries: 10, tier: 'memory' });
    store.fill([{ key: 'k', value: encodeEnvelope({ state: 'v', version: 1, writtenAt: 0, value: { tags: ['a'] } }), version: 1, ttlMs: 60_000 }], at(0));
    const value = store.readMany(['k'])[0]!.envelope!.value as { tags: string[] };
    expect(() => value.tags.push('b')).toThrow();
  });
});

describe('the in-process response store', () => {
  const response = (text: string) => ({ result: { data: { text } }, etag: `"${text}"`, retrieved: [] });
  const clock = { now: () => new Date(1_000_000) };

  it('stores a response only if none of its tags was invalidated after its read position', async () => {
    const store = createMemoryResponseStore({ maxEntries: 10, clock });
    // A list's tag is recorded by the request that read it: a connection has no id to collect.
    const tags = tagsOf([{ typename: 'Memory', id: 'mem_1' }, { typename: 'MemoryConnection' }], new Set([memoryListTag('ctx_1')]));
    expect(tags).toEqual(['MemoryConnection:ctx_1', 'Memory:mem_1', 'Memory', 'MemoryConnection']);
    expect(await store.set('before', response('old'), tags, 60_000, at(4))).toBe(true);
    store.invalidate(['Memory:mem_1'], 5);
    expect(await store.get('before')).toBeNull();
    // Began before the invalidation: refused. Began at or after it: stored.
    expect(await store.set('raced', response('old'), tags, 60_000, at(4))).toBe(false);
    expect(await store.set('after', response('new'), tags, 60_000, at(5))).toBe(true);
    expect((await store.get('after'))?.result.data).toEqual({ text: 'new' });
    // Another entity's invalidation leaves it be.
    store.invalidate(['Memory:mem_2'], 6);
    expect(await store.get('after')).not.toBeNull();
  });

  it('reports the seconds a copy has left, from the expiry of the tier it came from', async () => {
    const store = createMemoryResponseStore({ maxEntries: 10, clock });
    store.fill('copy', response('x'), ['Memory'], 30_000, 1_000_000 + 600_000, at(0));
    expect((await store.get('copy'))?.maxAgeSeconds).toBe(600);
  });
});

describe('the circuit breaker', () => {
  it('opens after consecutive failures, probes, and closes once the probe succeeds', async () => {
    let up = false;
    const changes: boolean[] = [];
    const breaker = createCircuitBreaker({
      failureThreshold: 3,
      probeIntervalMs: 10,
      probe: async () => {
        if (!up) throw new Error('down');
      },
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
