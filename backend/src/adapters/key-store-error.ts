/**
 * Why the key store could not be opened. The message never carries key material; `code` is what
 * callers (and the CLI's exit path) act on.
 */
export type KeyStoreErrorCode =
  /** BLUETILL_MASTER_KEY (or the option) is not set. */
  | 'master_key_missing'
  /** It is set but is not 32 bytes of base64. */
  | 'master_key_invalid'
  /** It is a valid key but not the one keys.json is sealed under. */
  | 'master_key_wrong'
  | 'keys_file_missing'
  /** Not an envelope this version reads (e.g. an old plaintext keys.json, or not JSON). */
  | 'keys_file_invalid'
  /** The key id matches but the ciphertext does not authenticate: the file was altered. */
  | 'keys_file_corrupt'
  /** `keys create` will not overwrite an existing keys file. */
  | 'keys_file_exists';

export class KeyStoreError extends Error {
  constructor(
    readonly code: KeyStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KeyStoreError';
  }
}
