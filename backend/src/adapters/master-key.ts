/**
 * The master key that seals keys.json at rest (AES-256-GCM key-encryption key). It comes from the
 * environment (`BLUETILL_MASTER_KEY`: 32 bytes, base64) or, for demos and tests, is generated per
 * run. The object never prints its bytes: `inspect`, `toString` and `toJSON` show the key id only.
 *
 * @example
 *   const master = masterKeyFromEnv();                 // throws KeyStoreError('master_key_missing')
 *   const material = readKeysFile(keysPath, master);   // throws KeyStoreError('master_key_wrong')
 */
import { createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { KeyStoreError } from './key-store-error';

export const MASTER_KEY_ENV = 'BLUETILL_MASTER_KEY';
export const NEW_MASTER_KEY_ENV = 'BLUETILL_NEW_MASTER_KEY';

const KEY_BYTES = 32;

export class MasterKey {
  readonly #key: Buffer;
  /**
   * Key id: HMAC-SHA256(key, "bluetill master key id"), first 8 bytes, hex. Names the key in the
   * envelope so a wrong key is told apart from a damaged file; reveals nothing about the key.
   */
  readonly id: string;

  private constructor(key: Buffer) {
    this.#key = key;
    this.id = createHmac('sha256', key)
      .update('bluetill master key id')
      .digest()
      .subarray(0, 8)
      .toString('hex');
  }

  static generate(): MasterKey {
    return new MasterKey(randomBytes(KEY_BYTES));
  }

  static fromBytes(bytes: Uint8Array): MasterKey {
    if (bytes.length !== KEY_BYTES)
      throw new KeyStoreError(
        'master_key_invalid',
        `the master key must be ${KEY_BYTES} bytes (it is ${bytes.length})`,
      );
    return new MasterKey(Buffer.from(bytes));
  }

  /** `source` names where the value came from, for the error message (never the value). */
  static fromBase64(value: string, source = 'the master key'): MasterKey {
    const s = value.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0)
      throw new KeyStoreError('master_key_invalid', `${source} is not base64`);
    const bytes = Buffer.from(s, 'base64');
    if (bytes.length !== KEY_BYTES)
      throw new KeyStoreError(
        'master_key_invalid',
        `${source} must be ${KEY_BYTES} bytes of base64 (it decodes to ${bytes.length})`,
      );
    return new MasterKey(bytes);
  }

  /** The key as base64, for handing it to a child process's environment. Never log it. */
  toBase64(): string {
    return this.#key.toString('base64');
  }

  /** The raw key, for the envelope cipher only. */
  bytes(): Buffer {
    return this.#key;
  }

  toString(): string {
    return `MasterKey(${this.id})`;
  }

  toJSON(): { id: string } {
    return { id: this.id };
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** The master key from `process.env[name]`; missing or empty → `master_key_missing`. */
export function masterKeyFromEnv(name = MASTER_KEY_ENV, env: NodeJS.ProcessEnv = process.env): MasterKey {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new KeyStoreError(
      'master_key_missing',
      `set ${name} to the master key (32 bytes, base64) that keys.json is encrypted under`,
    );
  }
  return MasterKey.fromBase64(value, name);
}
