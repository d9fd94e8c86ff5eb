import { concatBytes } from '../bytes';
import { ApduError } from './errors';

/**
 * A command APDU, ISO/IEC 7816-4 short form. `data` empty means no Lc; `le` absent means no Le;
 * `le` is 1..256 (256 is sent as 00). Cases: 1 (no data, no Le), 2 (Le), 3 (data), 4 (data, Le).
 */
export type CommandApdu = { cla: number; ins: number; p1: number; p2: number; data: Uint8Array; le?: number };

export type ApduCase = 1 | 2 | 3 | 4;

export function apduCase(c: CommandApdu): ApduCase {
  if (c.data.length === 0) return c.le === undefined ? 1 : 2;
  return c.le === undefined ? 3 : 4;
}

const isByte = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 0xff;

/** Encodes a command APDU (short form). Throws ApduError for values that do not fit. */
export function encodeCommandApdu(c: CommandApdu): Uint8Array {
  if (![c.cla, c.ins, c.p1, c.p2].every(isByte))
    throw new ApduError('bad_field', 'CLA, INS, P1 and P2 are single bytes');
  if (c.data.length > 255)
    throw new ApduError('extended_length', 'data longer than 255 bytes needs extended length');
  if (c.le !== undefined && (!Number.isInteger(c.le) || c.le < 1 || c.le > 256))
    throw new ApduError('extended_length', 'Le must be 1..256');
  const header = Uint8Array.of(c.cla, c.ins, c.p1, c.p2);
  const body = c.data.length > 0 ? concatBytes(Uint8Array.of(c.data.length), c.data) : new Uint8Array(0);
  const le = c.le === undefined ? new Uint8Array(0) : Uint8Array.of(c.le & 0xff);
  return concatBytes(header, body, le);
}

/** Decodes a short command APDU; extended-length APDUs raise ApduError('extended_length'). */
export function decodeCommandApdu(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw new ApduError('too_short', 'command APDU shorter than its 4-byte header');
  const [cla, ins, p1, p2] = [bytes[0], bytes[1], bytes[2], bytes[3]] as [number, number, number, number];
  if (bytes.length === 4) return { cla, ins, p1, p2, data: new Uint8Array(0) };
  const b5 = bytes[4] as number;
  if (bytes.length === 5) return { cla, ins, p1, p2, data: new Uint8Array(0), le: b5 === 0 ? 256 : b5 };
  if (b5 === 0) throw new ApduError('extended_length', 'extended-length APDUs are not supported');
  if (bytes.length === 5 + b5) return { cla, ins, p1, p2, data: bytes.slice(5) };
  if (bytes.length === 6 + b5) {
    const le = bytes[5 + b5] as number;
    return { cla, ins, p1, p2, data: bytes.slice(5, 5 + b5), le: le === 0 ? 256 : le };
  }
  throw new ApduError('bad_length', 'Lc does not match the command length');
}
