/**
 * Sends calls in batches, one batch at a time. A call made while no batch is in flight goes at
 * once, alone (a lone caller waits for nothing, not even a turn of the event loop); calls made
 * while one is in flight wait for it, and then go together, in the order they were made, at most
 * `maxBatch` at a time. Under concurrency, N calls cost about one round trip per round-trip time
 * instead of N, with no timer.
 *
 * `send` answers a batch with one result per input, in order. When it fails, every call of that
 * batch fails with its error; the calls queued behind it still go, as the next batch.
 */
export function createSerialBatcher<In, Out>(send: (inputs: In[]) => Promise<Out[]>, maxBatch: number): (input: In) => Promise<Out> {
  interface Waiting {
    input: In;
    resolve(output: Out): void;
    reject(error: unknown): void;
  }
  let queue: Waiting[] = [];
  let inFlight = false;

  function sendNext(): void {
    if (queue.length === 0) {
      inFlight = false;
      return;
    }
    inFlight = true;
    const batch = queue.length <= maxBatch ? queue : queue.splice(0, maxBatch);
    if (batch === queue) queue = [];
    const settled = (settle: (waiting: Waiting, at: number) => void) => {
      batch.forEach(settle);
      sendNext();
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
      queue.push({ input, resolve, reject });
      if (!inFlight) sendNext();
    });
}
