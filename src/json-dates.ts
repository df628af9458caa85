/**
 * JSON that keeps Dates, for values Recall writes to Redis and reads back (cache envelopes,
 * events). A Date becomes `{"\u0000d": <ms>}`; NUL cannot occur in stored data (it is refused
 * at the API), so no real object clashes with the tag.
 */
const DATE_TAG = '\u0000d';

export function stringifyWithDates(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, item: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { [DATE_TAG]: raw.getTime() } : item;
  });
}

/** Throws on malformed JSON, like JSON.parse. */
export function parseWithDates<V>(json: string): V {
  return JSON.parse(json, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && DATE_TAG in item ? new Date((item as Record<string, number>)[DATE_TAG]!) : item,
  ) as V;
}
