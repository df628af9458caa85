import type { Plugin } from 'graphql-yoga';

/**
 * Runs the operations of a batch one after the other, in the order sent, each from admission to
 * its reply's last invalidation: a batch behaves as the same requests sent one at a time, so a
 * query after a mutation reads what it wrote, and when the budget runs out it is the last
 * operations that are refused. yoga would start them all at once.
 */
export function useSequentialBatches(): Plugin {
  // The last operation of each request so far, settled or not; a lone operation waits for nothing.
  const tails = new WeakMap<Request, Promise<unknown>>();
  return {
    instrumentation: {
      operation({ request }, run) {
        const previous = tails.get(request);
        const current = previous ? previous.then(run) : Promise.resolve(run());
        // A failed operation is answered on its own (yoga catches it); the next one runs regardless.
        tails.set(request, current.catch(() => undefined));
        return current;
      },
    },
  };
}
