import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compareEventIds, createEventIdGenerator, isEventId } from '../../src/events/event-ids.js';
import { createEventMetrics } from '../../src/events/event-metrics.js';
import { createMemoryEventBus } from '../../src/events/memory-event-bus.js';
import type { RecallEventBody } from '../../src/events/recall-event.js';
import { createSubscriptionStream, StreamEnd, type Delivery } from '../../src/events/subscription-stream.js';

const body = (reason: string): RecallEventBody => ({
  kind: 'invalidation',
  ownerId: 'usr_1',
  contextId: null,
  position: null,
  invalidation: { entities: [], reason, occurredAt: new Date(0), source: 'test' },
});

function bus(maxLength = 100) {
  return createMemoryEventBus({
    maxLength,
    now: () => 1_000,
    source: 'test',
    metrics: createEventMetrics(new Registry()),
    logger: pino({ level: 'silent' }),
  });
}

const reasons = (stream: { next(): Promise<IteratorResult<Delivery<string> | StreamEnd>> }, n: number) =>
  Promise.all(Array.from({ length: n }, () => stream.next())).then((results) =>
    results.map((result) => (result.value instanceof StreamEnd ? 'END' : (result.value as Delivery<string>).value)),
  );

describe('event ids', () => {
  it('orders ids by time, then sequence, and hands them out increasing on a stuck clock', () => {
    const next = createEventIdGenerator(() => 5);
    expect([next(), next(), next()]).toEqual(['5-0', '5-1', '5-2']);
    expect(compareEventIds('10-0', '9-99')).toBeGreaterThan(0);
    expect(compareEventIds('9-2', '9-10')).toBeLessThan(0);
    expect(isEventId('1795300000000-0')).toBe(true);
    expect(isEventId('1795300000000')).toBe(false);
    expect(isEventId('0-0; DROP')).toBe(false);
  });
});

describe('subscription stream', () => {
  const select = (event: { kind: string } & Partial<{ invalidation: { reason: string } }>) => event.invalidation?.reason ?? null;

  it('replays what came after the id, then goes live, without repeating an event seen in both', async () => {
    const events = bus();
    await events.publish([body('a'), body('b')]);
    const [first] = (await events.readAfter('0-0', 10)).events;
    const stream = createSubscriptionStream({ bus: events, after: first!.id, replayLimit: 10, queueLimit: 10, select });
    // Published after listening began but before the replay was read: it arrives both ways.
    await events.publish([body('c')]);
    expect(await reasons(stream, 2)).toEqual(['b', 'c']);
    await events.publish([body('d')]);
    expect(await reasons(stream, 1)).toEqual(['d']);
    await stream.return!();
  });

  it('announces a gap when the events after the id are no longer kept', async () => {
    const events = bus(2);
    await events.publish([body('a')]);
    const [first] = (await events.readAfter('0-0', 10)).events;
    await events.publish([body('b'), body('c'), body('d')]);
    const stream = createSubscriptionStream({
      bus: events,
      after: first!.id,
      replayLimit: 10,
      queueLimit: 10,
      select,
      gapNotice: () => ({ eventId: first!.id, value: 'RESYNC', position: null }),
    });
    expect(await reasons(stream, 3)).toEqual(['RESYNC', 'c', 'd']);
    await stream.return!();
  });

  it('ends a subscriber that falls behind, instead of queueing without bound', async () => {
    const events = bus();
    let closedAs: string | null = null;
    const stream = createSubscriptionStream({ bus: events, after: null, replayLimit: 10, queueLimit: 3, select, onClose: (reason) => (closedAs = reason) });
    await events.publish([body('1'), body('2'), body('3'), body('4')]);
    const { value } = await stream.next();
    expect(value).toBeInstanceOf(StreamEnd);
    expect((value as StreamEnd).error.extensions['code']).toBe('SUBSCRIPTION_LAGGING');
    expect(await stream.next()).toEqual({ value: undefined, done: true });
    expect(closedAs).toBe('lagging');
  });

  it('lets a waiting subscriber go at once when the client leaves', async () => {
    const events = bus();
    let listening = 0;
    const counted = {
      ...events,
      listen(listener: Parameters<typeof events.listen>[0]) {
        listening += 1;
        const stop = events.listen(listener);
        return () => {
          listening -= 1;
          stop();
        };
      },
    };
    let closedAs: string | null = null;
    const stream = createSubscriptionStream({ bus: counted, after: null, replayLimit: 10, queueLimit: 3, select, onClose: (reason) => (closedAs = reason) });
    expect(listening).toBe(1);
    const waiting = stream.next();
    await stream.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(closedAs).toBe('client');
    expect(listening).toBe(0);
  });

  it('resyncs a client that resumes from an id it cannot have been given, then goes live', async () => {
    const events = bus();
    await events.publish([body('kept')]);
    const stream = createSubscriptionStream({
      bus: events,
      after: '99999999999999-0',
      replayLimit: 10,
      queueLimit: 10,
      select,
      gapNotice: () => ({ eventId: '99999999999999-0', value: 'RESYNC', position: null }),
    });
    expect(await reasons(stream, 1)).toEqual(['RESYNC']);
    await events.publish([body('live')]);
    expect(await reasons(stream, 1)).toEqual(['live']);
    await stream.return!();
  });
});
