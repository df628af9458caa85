/** The most UTF-8 bytes one UTF-16 unit of a string takes in JSON: a control character's `\u001f`. */
const MAX_BYTES_PER_UNIT = 6;
/** The longest JSON of a number: `-2.2250738585072014e-308`. */
const MAX_NUMBER_BYTES = 24;

/**
 * An upper bound on `Buffer.byteLength(JSON.stringify(value))`, found without building the
 * string, or Infinity once it passes `limit` or meets what it does not size (a value with
 * `toJSON`, an object that is not plain data): the caller then stringifies to know. Cheaper than
 * stringifying when all it must tell is that a value is well under a limit.
 */
export function jsonBytesBound(value: unknown, limit: number): number {
  let total = 0;
  const add = (item: unknown): boolean => {
    switch (typeof item) {
      case 'string':
        total += MAX_BYTES_PER_UNIT * item.length + 2;
        break;
      case 'number':
        total += MAX_NUMBER_BYTES;
        break;
      case 'boolean':
      case 'undefined':
        total += 5;
        break;
      case 'object': {
        if (item === null) {
          total += 4;
          break;
        }
        if (Array.isArray(item)) {
          // Brackets, and a comma after each item.
          total += 2 + item.length;
          for (const element of item) if (!add(element)) return false;
          break;
        }
        const prototype = Object.getPrototypeOf(item) as unknown;
        if ((prototype !== Object.prototype && prototype !== null) || 'toJSON' in item) return false;
        total += 2;
        for (const key in item) {
          // Quotes, colon and comma around the key.
          total += MAX_BYTES_PER_UNIT * key.length + 4;
          if (!add((item as Record<string, unknown>)[key])) return false;
        }
        break;
      }
      default:
        return false;
    }
    return total <= limit;
  };
  return add(value) ? total : Number.POSITIVE_INFINITY;
}
