/** The source of "now" for every timestamp Recall writes or compares; tests move it. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
