import type { RecallEvent } from './recall-event.js';

/** This instance's listeners; a throwing listener cannot keep the event from the others. */
export function createFanOut(onListenerError: (error: unknown) => void) {
  const listeners = new Set<(event: RecallEvent) => void>();
  return {
    listen(listener: (event: RecallEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    emit(event: RecallEvent): void {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (error) {
          onListenerError(error);
        }
      }
    },
  };
}
