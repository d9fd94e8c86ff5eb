import { concatBytes } from '../bytes';
import { ApduError } from './errors';

/** A response APDU: data ‖ SW1 SW2. `sw` is SW1 * 256 + SW2. */
export type ResponseApdu = { data: Uint8Array; sw: number };

export function encodeResponseApdu(data: Uint8Array, sw: number): Uint8Array {
  if (!Number.isInteger(sw) || sw < 0 || sw > 0xffff)
    throw new ApduError('bad_field', 'status word is two bytes');
  return concatBytes(data, Uint8Array.of(sw >> 8, sw & 0xff));
}

/** Response carrying only a status word. */
export function statusOnly(sw: number): Uint8Array {
  return encodeResponseApdu(new Uint8Array(0), sw);
}

export function decodeResponseApdu(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new ApduError('too_short', 'response APDU shorter than its status word');
  const n = bytes.length;
  return { data: bytes.slice(0, n - 2), sw: ((bytes[n - 2] as number) << 8) | (bytes[n - 1] as number) };
}
