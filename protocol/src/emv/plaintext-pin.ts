import { ProtocolError } from '../errors';

/** A PIN that cannot go into a plaintext offline PIN block. Never carries the PIN. */
export class PlaintextPinError extends ProtocolError<'bad_pin'> {}

/**
 * Plaintext offline PIN block for VERIFY P2 80 (EMV Book 3 section 6.5.12, ISO 9564 format 2):
 * 8 bytes, control nibble 2, PIN length nibble (4..C), PIN digits, filler F.
 */
export function encodePlaintextPinBlock(pin: string): Uint8Array {
  if (!/^[0-9]{4,12}$/.test(pin)) throw new PlaintextPinError('bad_pin', 'PIN must be 4-12 digits');
  return new Uint8Array(Buffer.from(`2${pin.length.toString(16)}${pin}`.padEnd(16, 'F'), 'hex'));
}

/** Parses a plaintext offline PIN block; undefined when malformed (the card answers 6A80). */
export function parsePlaintextPinBlock(block: Uint8Array): string | undefined {
  if (block.length !== 8) return undefined;
  const hex = Buffer.from(block).toString('hex').toUpperCase();
  if (hex[0] !== '2') return undefined;
  const n = Number.parseInt(hex[1] as string, 16);
  if (n < 4 || n > 12) return undefined;
  const digits = hex.slice(2, 2 + n);
  if (!/^[0-9]+$/.test(digits) || !/^F*$/.test(hex.slice(2 + n))) return undefined;
  return digits;
}
