import { parseWithDates, stringifyWithDates } from '../json-dates.js';

/**
 * How values are stored: `<format>|<state>|<version>|<written at ms>|<json>`. The version is
 * plain text at a fixed place so that the Lua guard can compare it without decoding JSON.
 *
 * - `v`: a value at that entity version.
 * - `n`: known not to exist (a short negative entry, or a deletion at that version).
 * - `t`: a tombstone: written at that version and not yet re-read; a miss, but it keeps older
 *   readers from putting their older value back.
 */
export const ENVELOPE_FORMAT = 1;

export type EnvelopeState = 'v' | 'n' | 't';

export interface Envelope<V> {
  state: EnvelopeState;
  version: number;
  writtenAt: number;
  value: V | null;
}

export function encodeEnvelope<V>(envelope: Envelope<V>): string {
  const json =
    envelope.value === null
      ? ''
      : stringifyWithDates(envelope.value);
  return `${ENVELOPE_FORMAT}|${envelope.state}|${envelope.version}|${envelope.writtenAt}|${json}`;
}

/** The state of an encoded envelope, without decoding its value. */
export function envelopeState(raw: string): EnvelopeState | null {
  return (/^\d+\|([vnt])\|/.exec(raw)?.[1] as EnvelopeState | undefined) ?? null;
}

/** Returns null for anything not written by this format version (older deployments, garbage). */
export function decodeEnvelope<V>(raw: string): Envelope<V> | null {
  const match = /^(\d+)\|([vnt])\|(\d+)\|(\d+)\|/.exec(raw);
  if (!match || Number(match[1]) !== ENVELOPE_FORMAT) return null;
  const state = match[2] as EnvelopeState;
  const json = raw.slice(match[0].length);
  try {
    const value = state === 'v' ? parseWithDates<V>(json) : null;
    return { state, version: Number(match[3]), writtenAt: Number(match[4]), value };
  } catch {
    return null;
  }
}
