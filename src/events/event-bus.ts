import type { RecallEvent, RecallEventBody } from './recall-event.js';

export interface Replay {
  /** Oldest first. */
  events: RecallEvent[];
  /**
   * False when some events after the id may be missing: the event with that id is no longer
   * kept (trimmed, or never shared), or the events did not fit the limit.
   */
  complete: boolean;
}

/**
 * Carries change events to the subscribers of every instance, and keeps the latest of them so
 * that a reconnecting client can be sent what it missed.
 */
export interface EventBus {
  readonly mode: 'redis' | 'memory';
  /** Names this instance in the events it publishes. */
  readonly source: string;
  /** Never throws: an event that cannot be shared still reaches this instance's subscribers. */
  publish(events: RecallEventBody[]): Promise<void>;
  /** Calls `listener` with every event, in order, until the returned function is called. */
  listen(listener: (event: RecallEvent) => void): () => void;
  /** The kept events after `id`, at most `limit` of them. */
  readAfter(id: string, limit: number): Promise<Replay>;
  /** Drops the kept events of a deleted user (what replays would hand out), as of now; a failure is logged, not thrown. */
  forgetOwner(ownerId: string): Promise<void>;
  close(): Promise<void>;
}
