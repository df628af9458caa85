export interface SerialBatcherOptions {
  /** Most calls one batch carries. */
  maxBatch: number;
  /**
   * Longest a call waits, from when it was made: a call queued behind a batch in flight fails
   * with a timeout once it has waited this long, whatever its own batch's state (a batch sent at
   * once is bounded by `send`'s own timeout, which should be this one).
   */
  timeoutMs: number;
}

/**
 * Sends calls in batches, one batch at a time. A call made while no batch is in flight goes at
 * once, alone (a lone caller waits for nothing, not even a turn of the event loop); calls made
 * while one is in flight wait for it, and then go together, in the order they were made, at most
 * `maxBatch` at a time. Under concurrency, N calls cost about one round trip per round-trip time
 * instead of N, and no call waits for a timer to gather it.
 *
 * `send` answers a batch with one result per input, in order. When it fails, every call of that
 * batch fails with its error; the calls queued behind it still go, as the next batch. No call
 * waits longer than `timeoutMs` for its answer, queued or not.
 */
export function createSerialBatcher<In, Out>(send: (inputs: In[]) => Promise<Out[]>, options: SerialBatcherOptions): (input: In) => Promise<Out> {
  const { maxBatch, timeoutMs } = options;
  interface Waiting {
    input: In;
    /** performance.now() when the call was made. */
    since: number;
    resolve(output: Out): void;
    reject(error: unknown): void;
  }
  let queue: Waiting[] = [];
  let inFlight = false;

  function sendNext(queued: boolean): void {
    if (queue.length === 0) {
      inFlight = false;
      return;
    }
    inFlight = true;
    const batch = queue.length <= maxBatch ? queue : queue.splice(0, maxBatch);
    if (batch === queue) queue = [];
    // A batch that waited behind another has less of its oldest call's time left than `send` would give it.
    const timer = queued
      ? setTimeout(() => {
          const error = new Error(`no answer within ${timeoutMs} ms`);
          for (const waiting of batch) waiting.reject(error);
        }, timeoutMs - (performance.now() - batch[0]!.since))
      : undefined;
    timer?.unref();
    const settled = (settle: (waiting: Waiting, at: number) => void) => {
      clearTimeout(timer);
      batch.forEach(settle);
      sendNext(true);
    };
    let sent: Promise<Out[]>;
    try {
      sent = send(batch.map((waiting) => waiting.input));
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (outputs) => settled((waiting, at) => waiting.resolve(outputs[at]!)),
      (error: unknown) => settled((waiting) => waiting.reject(error)),
    );
  }

  return (input) =>
    new Promise<Out>((resolve, reject) => {
      queue.push({ input, since: performance.now(), resolve, reject });
      if (!inFlight) sendNext(false);
    });
}
