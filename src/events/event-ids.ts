/** The header EventSource sends when it reconnects: the id of the last event it received. */
export const LAST_EVENT_ID_HEADER = 'last-event-id';

/**
 * Event ids have the form of Redis Stream ids, `<ms>-<seq>`, in both modes, so that a client
 * can resume from any id it was given.
 */
const EVENT_ID = /^(\d{1,15})-(\d{1,15})$/;

export function isEventId(value: string): boolean {
  return EVENT_ID.test(value);
}

/** Negative when `a` comes before `b`. Both must be event ids. */
export function compareEventIds(a: string, b: string): number {
  const [, aMs, aSeq] = EVENT_ID.exec(a)!;
  const [, bMs, bSeq] = EVENT_ID.exec(b)!;
  return Number(aMs) - Number(bMs) || Number(aSeq) - Number(bSeq);
}

/** Hands out increasing ids from a clock, the way Redis does for XADD `*`. */
export function createEventIdGenerator(now: () => number) {
  let lastMs = 0;
  let seq = 0;
  return (): string => {
    const ms = now();
    if (ms > lastMs) {
      lastMs = ms;
      seq = 0;
    } else {
      seq += 1;
    }
    return `${lastMs}-${seq}`;
  };
}
