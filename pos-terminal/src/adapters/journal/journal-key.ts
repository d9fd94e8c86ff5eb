/**
 * The journal's at-rest key. It is derived (HKDF-SHA256, per terminal) from the till key, a secret
 * that is not kept on the till's disk beside the journal: `BLUETILL_TILL_KEY` (32 bytes, base64)
 * in the environment, or read from a file descriptor the service manager opened
 * (`BLUETILL_TILL_KEY_FD`). The terminal's private key sits in clear in the terminal file, so a
 * key derived from it would protect nothing from whoever copies the disk.
 *
 * @example
 *   const key = journalKey(tillKeyFromEnv(), 'T-0001');   // throws TillKeyError('till_key_missing')
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const TILL_KEY_ENV = 'BLUETILL_TILL_KEY';
export const TILL_KEY_FD_ENV = 'BLUETILL_TILL_KEY_FD';
const KEY_BYTES = 32;

export class TillKeyError extends Error {
  constructor(
    readonly code: 'till_key_missing' | 'till_key_invalid',
    message: string,
  ) {
    super(message);
    this.name = 'TillKeyError';
  }
}

/** A fresh till key, base64 (for `pos-terminal till-key`, demos and tests). */
export function generateTillKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Parses a till key (32 bytes, base64). Throws TillKeyError('till_key_invalid'); never echoes the value. */
export function parseTillKey(value: string, source = TILL_KEY_ENV): Uint8Array {
  const s = value.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s) || s.length % 4 !== 0)
    throw new TillKeyError('till_key_invalid', `${source} is not base64`);
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== KEY_BYTES)
    throw new TillKeyError(
      'till_key_invalid',
      `${source} must be ${KEY_BYTES} bytes of base64 (it decodes to ${bytes.length})`,
    );
  return new Uint8Array(bytes);
}

/** The till key from `BLUETILL_TILL_KEY`, or from the descriptor named by `BLUETILL_TILL_KEY_FD`. */
export function tillKeyFromEnv(env: NodeJS.ProcessEnv = process.env): Uint8Array {
  const fd = env[TILL_KEY_FD_ENV];
  if (fd !== undefined && fd !== '') {
    if (!/^[0-9]{1,4}$/.test(fd))
      throw new TillKeyError('till_key_invalid', `${TILL_KEY_FD_ENV} must be a file descriptor number`);
    return parseTillKey(readFileSync(Number(fd), 'utf8'), `the till key on descriptor ${fd}`);
  }
  const value = env[TILL_KEY_ENV];
  if (value === undefined || value === '')
    throw new TillKeyError(
      'till_key_missing',
      `set ${TILL_KEY_ENV} to the till key (32 bytes, base64; \`openssl rand -base64 32\`) that protects the journal, or ${TILL_KEY_FD_ENV} to a descriptor to read it from`,
    );
  return parseTillKey(value);
}

/** The journal key of one terminal under the till key. */
export function journalKey(tillKey: Uint8Array, terminalId: string): Uint8Array {
  if (tillKey.length !== KEY_BYTES)
    throw new TillKeyError('till_key_invalid', `the till key must be ${KEY_BYTES} bytes`);
  return new Uint8Array(
    hkdfSync(
      'sha256',
      tillKey,
      Buffer.from(`bluetill journal ${terminalId}`),
      Buffer.from('journal key v2'),
      KEY_BYTES,
    ),
  );
}
