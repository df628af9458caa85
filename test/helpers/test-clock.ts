import type { Clock } from '../../src/clock.js';

/** A clock that moves only when told, starting at the real time. */
export function createTestClock(start = new Date()) {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    advance(ms: number) {
      current += ms;
    },
  } satisfies Clock & { advance(ms: number): void };
}

export type TestClock = ReturnType<typeof createTestClock>;
