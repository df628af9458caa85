import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32: sorts as it reads

export type IdKind = 'usr' | 'ses' | 'ctx' | 'mem' | 'evt' | 'key';

/**
 * Makes ids like `mem_01JD3…`: a kind prefix, 48 bits of milliseconds and 80 random bits.
 * Ids of one process never go backwards, even within a millisecond, so keyset pagination can
 * order by id alone and a batch keeps its input order.
 */
export function createIdGenerator(now: () => number) {
  let lastTime = -1;
  const lastRandom = Buffer.alloc(10);

  return (kind: IdKind): string => {
    const time = Math.max(now(), lastTime);
    if (time === lastTime) {
      incrementInPlace(lastRandom);
    } else {
      randomBytes(10).copy(lastRandom);
      lastTime = time;
    }
    return `${kind}_${encode(BigInt(time), 10)}${encode(BigInt(`0x${lastRandom.toString('hex')}`), 16)}`;
  };
}

const ID_SHAPE = /^(usr|ses|ctx|mem|evt|key)_[0-9A-HJKMNP-TV-Z]{26}$/;

/** Whether `value` could be an id of this kind; anything else is unknown without asking the database. */
export function isId(value: string, kind: IdKind): boolean {
  return value.startsWith(`${kind}_`) && ID_SHAPE.test(value);
}

/** The kind an id of ours names; null for anything that is not one. */
export function kindOf(value: string): IdKind | null {
  return (ID_SHAPE.exec(value)?.[1] as IdKind | undefined) ?? null;
}

export type IdGenerator = ReturnType<typeof createIdGenerator>;

function incrementInPlace(bytes: Buffer): void {
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i]! + 1) & 0xff;
    if (bytes[i] !== 0) return;
  }
}

function encode(value: bigint, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}
