/**
 * The sliding-window counter both budget stores use: a count per fixed window, with the previous
 * window weighed by how much of it the sliding window still covers. Two numbers per caller,
 * and within a few percent of an exact log.
 */
export interface WindowPosition {
  /** Index of the current fixed window. */
  index: number;
  /** Share of the previous window still inside the sliding window, 0..1. */
  previousWeight: number;
  /** When the current fixed window ends, in ms since the epoch. */
  endsAt: number;
}

export function windowPosition(nowMs: number, windowMs: number): WindowPosition {
  const index = Math.floor(nowMs / windowMs);
  const elapsed = nowMs - index * windowMs;
  return { index, previousWeight: (windowMs - elapsed) / windowMs, endsAt: (index + 1) * windowMs };
}

export const usedInWindow = (previous: number, current: number, previousWeight: number): number =>
  Math.floor(previous * previousWeight) + current;
