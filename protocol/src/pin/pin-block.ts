/**
 * ISO 9564-1 PIN blocks.
 *
 * Formats 0, 1, 3 are 8-byte clear blocks (for TDES-era systems and for decoding what others
 * send). Format 4 is the AES PIN block: 16-byte plaintext PIN field and PAN field, enciphered as
 * C = E(K, E(K, PINfield) XOR PANfield). bluetill seals format-4 blocks to the authorization
 * server (see pin-seal.ts); a clear PIN never leaves the phone.
 *
 * | format | PIN field (nibbles)                          | PAN field                         |
 * | ------ | -------------------------------------------- | --------------------------------- |
 * | 0      | 0 N P..P F..F                                | 0000 + 12 rightmost PAN digits excluding the check digit |
 * | 1      | 1 N P..P R..R (random 0-F)                   | none                              |
 * | 3      | 3 N P..P R..R (random A-F)                   | as format 0                       |
 * | 4      | 4 N P..P A..A (to nibble 15) + 8 random bytes | M + PAN (12+M digits), 0-padded to 32 nibbles |
 */
import { createCipheriv, createDecipheriv, randomBytes, randomInt } from 'node:crypto';
import { ProtocolError } from '../errors';

export type PinBlockErrorCode = 'bad_pin' | 'bad_pan' | 'bad_block' | 'bad_key';
export class PinBlockError extends ProtocolError<PinBlockErrorCode> {}

const nibblesToBytes = (nibbles: number[]): Uint8Array => {
  const out = new Uint8Array(nibbles.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (nibbles[2 * i]! << 4) | nibbles[2 * i + 1]!;
  return out;
};
const bytesToNibbles = (bytes: Uint8Array): number[] => Array.from(bytes).flatMap((b) => [b >> 4, b & 0x0f]);
const xor = (a: Uint8Array, b: Uint8Array): Uint8Array => a.map((v, i) => v ^ b[i]!);
const digits = (s: string): number[] => Array.from(s, Number);

function checkPin(pin: string): void {
  if (!/^\d{4,12}$/.test(pin)) throw new PinBlockError('bad_pin', 'PIN must be 4 to 12 digits');
}
function checkPan(pan: string): void {
  if (!/^\d{12,19}$/.test(pan)) throw new PinBlockError('bad_pan', 'PAN must be 12 to 19 digits');
}

/** PAN field of formats 0 and 3: 0000 + the 12 rightmost digits excluding the check digit. */
function panField0(pan: string): Uint8Array {
  checkPan(pan);
  const body = pan.slice(0, -1).slice(-12);
  return nibblesToBytes([0, 0, 0, 0, ...digits(body)]);
}

function pinField(format: 0 | 1 | 3, pin: string): Uint8Array {
  checkPin(pin);
  const nibbles = [format, pin.length, ...digits(pin)];
  while (nibbles.length < 16)
    nibbles.push(format === 0 ? 0xf : format === 1 ? randomInt(16) : 10 + randomInt(6));
  return nibblesToBytes(nibbles);
}

export const encodePinBlock0 = (pin: string, pan: string): Uint8Array =>
  xor(pinField(0, pin), panField0(pan));
export const encodePinBlock1 = (pin: string): Uint8Array => pinField(1, pin);
export const encodePinBlock3 = (pin: string, pan: string): Uint8Array =>
  xor(pinField(3, pin), panField0(pan));

/** Reads a clear format 0, 1 or 3 block; checks the control nibble, length and fill. */
export function decodePinBlock(format: 0 | 1 | 3, block: Uint8Array, pan?: string): string {
  if (block.length !== 8) throw new PinBlockError('bad_block', 'PIN block must be 8 bytes');
  let field = block;
  if (format !== 1) {
    if (pan === undefined) throw new PinBlockError('bad_pan', `format ${format} needs the PAN`);
    field = xor(block, panField0(pan));
  }
  const n = bytesToNibbles(field);
  if (n[0] !== format) throw new PinBlockError('bad_block', `control field is not ${format}`);
  const len = n[1]!;
  if (len < 4 || len > 12) throw new PinBlockError('bad_block', 'PIN length out of range');
  const pinDigits = n.slice(2, 2 + len);
  if (pinDigits.some((d) => d > 9)) throw new PinBlockError('bad_block', 'PIN digit out of range');
  const fill = n.slice(2 + len);
  const fillOk =
    format === 0 ? fill.every((d) => d === 0xf) : format === 3 ? fill.every((d) => d >= 10) : true;
  if (!fillOk) throw new PinBlockError('bad_block', 'fill digits do not match the format');
  return pinDigits.join('');
}

export const decodePinBlock0 = (block: Uint8Array, pan: string): string => decodePinBlock(0, block, pan);

// ---- format 4 -----------------------------------------------------------------------------

/** Plaintext PIN field of format 4 (16 bytes). */
export function pinField4(pin: string, randomFill: Uint8Array = randomBytes(8)): Uint8Array {
  checkPin(pin);
  if (randomFill.length !== 8) throw new PinBlockError('bad_block', 'format 4 random fill is 8 bytes');
  const nibbles = [4, pin.length, ...digits(pin)];
  while (nibbles.length < 16) nibbles.push(0xa);
  const out = new Uint8Array(16);
  out.set(nibblesToBytes(nibbles), 0);
  out.set(randomFill, 8);
  return out;
}

/** Plaintext PAN field of format 4 (16 bytes): M = PAN length − 12 (0 when shorter), then the PAN. */
export function panField4(pan: string): Uint8Array {
  if (!/^\d{1,19}$/.test(pan)) throw new PinBlockError('bad_pan', 'PAN must be 1 to 19 digits');
  const digitsOfPan = pan.padStart(12, '0');
  const out = new Uint8Array(16);
  // Nibble 0 is M; nibbles 1.. are the digits (byte loop: the backend builds one per sealed PIN).
  out[0] = Math.max(0, pan.length - 12) << 4;
  for (let i = 0; i < digitsOfPan.length; i++) {
    const n = i + 1;
    out[n >> 1]! |= (digitsOfPan.charCodeAt(i) - 48) << (n & 1 ? 0 : 4);
  }
  return out;
}

/**
 * One AES-ECB cipher for both blocks of a format-4 operation (the second block depends on the
 * first's output): without padding, each 16-byte update returns its block at once.
 */
function aesEcb(key: Uint8Array, decrypt: boolean): (block: Uint8Array) => Uint8Array {
  if (![16, 24, 32].includes(key.length))
    throw new PinBlockError('bad_key', 'AES key must be 16, 24 or 32 bytes');
  const algo = `aes-${key.length * 8}-ecb`;
  const c = decrypt ? createDecipheriv(algo, key, null) : createCipheriv(algo, key, null);
  c.setAutoPadding(false);
  return (block) => {
    const out = c.update(block);
    if (out.length !== 16) throw new PinBlockError('bad_block', 'AES block did not come out whole');
    return new Uint8Array(out.buffer, out.byteOffset, 16);
  };
}

export function encipherPinBlock4(
  key: Uint8Array,
  pin: string,
  pan: string,
  randomFill?: Uint8Array,
): Uint8Array {
  const aes = aesEcb(key, false);
  const intermediate = aes(pinField4(pin, randomFill));
  return aes(xor(intermediate, panField4(pan)));
}

export function decipherPinBlock4(key: Uint8Array, block: Uint8Array, pan: string): string {
  if (block.length !== 16) throw new PinBlockError('bad_block', 'format 4 block must be 16 bytes');
  const aes = aesEcb(key, true);
  const intermediate = xor(aes(block), panField4(pan));
  return readPinField4(aes(intermediate));
}

/**
 * The PIN of a plaintext format-4 PIN field (16 bytes, as pinField4 makes it): control nibble 4,
 * length 4-12, decimal digits, fill A up to nibble 15; the 8 random bytes are not read.
 */
export function readPinField4(field: Uint8Array): string {
  if (field.length !== 16) throw new PinBlockError('bad_block', 'format 4 PIN field must be 16 bytes');
  const nibble = (i: number) => (i & 1 ? field[i >> 1]! & 0x0f : field[i >> 1]! >> 4);
  if (nibble(0) !== 4) throw new PinBlockError('bad_block', 'control field is not 4');
  const len = nibble(1);
  if (len < 4 || len > 12) throw new PinBlockError('bad_block', 'PIN length out of range');
  let pin = '';
  for (let i = 2; i < 16; i++) {
    const d = nibble(i);
    if (i < 2 + len ? d > 9 : d !== 0xa) throw new PinBlockError('bad_block', 'PIN field malformed');
    if (i < 2 + len) pin += String.fromCharCode(48 + d);
  }
  return pin;
}
