import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Seals what leaves the process for Redis, so that a reader of Redis learns nothing and a writer
 * of Redis can forge nothing: AES-256-GCM, a fresh random 96-bit IV per seal, and a name the
 * value belongs to (its cache key) bound as additional authenticated data, so a value copied to
 * another key does not open there.
 */
export interface Sealer {
  seal(plaintext: string, boundTo: string): string;
  /** The plaintext, or null for anything that does not open (tampered, truncated, another key or secret, garbage). */
  open(sealed: string, boundTo: string): string | null;
}

export interface SealerSecrets {
  /** What every value is sealed under. */
  current: Buffer;
  /** Earlier secrets, still accepted for opening (rotation); values opened with one are resealed under `current` on their next write. */
  previous: readonly Buffer[];
}

/** The first byte of every sealed value; a later layout gets another one. */
const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

/** The AES key of a secret: derived rather than the secret itself, so the secret may key other things too. */
const aesKeyOf = (secret: Buffer) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'recall cache seal v1', 32));

/** Output: base64url of format byte | IV | tag | ciphertext. */
export function createSealer(secrets: SealerSecrets): Sealer {
  const current = aesKeyOf(secrets.current);
  const keys = [current, ...secrets.previous.map(aesKeyOf)];

  const openWith = (key: Buffer, iv: Buffer, tag: Buffer, ciphertext: Buffer, aad: Buffer): string | null => {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
    } catch {
      // The tag did not verify: another secret, another key, or changed bytes. Callers count it.
      return null;
    }
  };

  return {
    seal(plaintext, boundTo) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(boundTo, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([Buffer.of(FORMAT), iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
    },
    open(sealed, boundTo) {
      const bytes = Buffer.from(sealed, 'base64url');
      if (bytes.length < HEADER_BYTES || bytes[0] !== FORMAT) return null;
      const iv = bytes.subarray(1, 1 + IV_BYTES);
      const tag = bytes.subarray(1 + IV_BYTES, HEADER_BYTES);
      const ciphertext = bytes.subarray(HEADER_BYTES);
      const aad = Buffer.from(boundTo, 'utf8');
      for (const key of keys) {
        const plaintext = openWith(key, iv, tag, ciphertext, aad);
        if (plaintext !== null) return plaintext;
      }
      return null;
    },
  };
}
