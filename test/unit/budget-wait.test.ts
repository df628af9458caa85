import { describe, expect, it } from 'vitest';
import { budgetWaitMs } from '../../src/rate-limit/rate-limiter.js';
import { usedInWindow, windowPosition } from '../../src/rate-limit/sliding-window.js';

const W = 60_000;

/** What the budget holds at `t`, had nothing else been spent since `now`. */
function usedAt(t: number, now: number, windows: { current: number; previous: number }): number {
  const nowIndex = windowPosition(now, W).index;
  const { index, previousWeight } = windowPosition(t, W);
  if (index === nowIndex) return usedInWindow(windows.previous, windows.current, previousWeight);
  if (index === nowIndex + 1) return usedInWindow(windows.current, 0, previousWeight);
  return 0;
}

describe('when a refused operation fits the budget again', () => {
  it('is the first instant it fits, not the turn of the window', () => {
    const cases = [
      { current: 40, previous: 100, points: 1, limit: 100, elapsed: 1_000 },
      { current: 100, previous: 0, points: 1, limit: 100, elapsed: 30_000 },
      { current: 100, previous: 100, points: 1, limit: 100, elapsed: 59_000 },
      { current: 60, previous: 80, points: 50, limit: 100, elapsed: 20_000 },
      { current: 10, previous: 95, points: 7, limit: 100, elapsed: 5_000 },
    ];
    for (const { current, previous, points, limit, elapsed } of cases) {
      const now = 1_800_000_000_000 - (1_800_000_000_000 % W) + elapsed;
      const windows = { current, previous };
      expect(usedAt(now, now, windows) + points).toBeGreaterThan(limit);
      const wait = Math.ceil(budgetWaitMs(windows, points, limit, W, now));
      expect(usedAt(now + wait, now, windows) + points, JSON.stringify({ current, previous, points, wait })).toBeLessThanOrEqual(limit);
      if (wait > 1) expect(usedAt(now + wait - 2, now, windows) + points).toBeGreaterThan(limit);
    }
  });
});
