import { concatBytes } from '../bytes';
import { assertNever } from '../errors';
import { encodeCommandApdu } from './command';
import { ApduError } from './errors';

/** Builders for the commands an EMV contactless read and a personalization use (bytes out). */

const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

/** The contactless Proximity Payment System Environment name. */
export const PPSE_NAME = '2PAY.SYS.DDF01';

/** SELECT by DF name / AID (00 A4 04 00 Lc name 00); `next` selects the next occurrence (P2 02). */
export function selectCommand(name: Uint8Array, options: { next?: boolean } = {}): Uint8Array {
  return encodeCommandApdu({
    cla: 0x00,
    ins: 0xa4,
    p1: 0x04,
    p2: options.next ? 0x02 : 0x00,
    data: name,
    le: 256,
  });
}

export const selectPpseCommand = (): Uint8Array => selectCommand(ascii(PPSE_NAME));

/** GET PROCESSING OPTIONS (80 A8 00 00) with the PDOL data wrapped in tag 83. */
export function getProcessingOptionsCommand(pdolData: Uint8Array): Uint8Array {
  if (pdolData.length > 127) throw new ApduError('bad_length', 'PDOL data longer than 127 bytes');
  return encodeCommandApdu({
    cla: 0x80,
    ins: 0xa8,
    p1: 0x00,
    p2: 0x00,
    data: concatBytes(Uint8Array.of(0x83, pdolData.length), pdolData),
    le: 256,
  });
}

/** READ RECORD (00 B2 record (SFI<<3 | 4) 00). */
export function readRecordCommand(sfi: number, record: number): Uint8Array {
  if (!Number.isInteger(sfi) || sfi < 1 || sfi > 30) throw new ApduError('bad_field', 'SFI is 1..30');
  if (!Number.isInteger(record) || record < 1 || record > 254)
    throw new ApduError('bad_field', 'record number is 1..254');
  return encodeCommandApdu({
    cla: 0x00,
    ins: 0xb2,
    p1: record,
    p2: (sfi << 3) | 0x04,
    data: new Uint8Array(0),
    le: 256,
  });
}

/** INTERNAL AUTHENTICATE (00 88 00 00) with the DDOL data (e.g. the unpredictable number). */
export function internalAuthenticateCommand(ddolData: Uint8Array): Uint8Array {
  return encodeCommandApdu({ cla: 0x00, ins: 0x88, p1: 0x00, p2: 0x00, data: ddolData, le: 256 });
}

/** The cryptogram a GENERATE AC asks for. */
export type AcType = 'aac' | 'tc' | 'arqc';

export function acTypeBits(type: AcType): number {
  switch (type) {
    case 'aac':
      return 0x00;
    case 'tc':
      return 0x40;
    case 'arqc':
      return 0x80;
    default:
      return assertNever(type, 'AC type');
  }
}

/** GENERATE AC (80 AE P1 00): P1 = AC type, plus bit 5 (10) when a CDA signature is requested. */
export function generateAcCommand(
  type: AcType,
  cdolData: Uint8Array,
  options: { cda?: boolean } = {},
): Uint8Array {
  return encodeCommandApdu({
    cla: 0x80,
    ins: 0xae,
    p1: acTypeBits(type) | (options.cda ? 0x10 : 0),
    p2: 0x00,
    data: cdolData,
    le: 256,
  });
}

/** VERIFY (00 20 00 P2): P2 80 = plaintext offline PIN (the 8-byte PIN block); bluetill's 90 = fingerprint template (7F2E), 91 = knowledge secret. */
export function verifyCommand(pinBlock: Uint8Array, p2 = 0x80): Uint8Array {
  return encodeCommandApdu({ cla: 0x00, ins: 0x20, p1: 0x00, p2, data: pinBlock });
}

/** GET DATA (80 CA tag) for a one- or two-byte tag such as 9F36 (ATC) or 9F17 (PIN try counter). */
export function getDataCommand(tag: number): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffff)
    throw new ApduError('bad_field', 'GET DATA tag is one or two bytes');
  return encodeCommandApdu({
    cla: 0x80,
    ins: 0xca,
    p1: tag >> 8,
    p2: tag & 0xff,
    data: new Uint8Array(0),
    le: 256,
  });
}

/** PUT DATA (00 DA tag) writing one data object value. */
export function putDataCommand(tag: number, value: Uint8Array): Uint8Array {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xffff)
    throw new ApduError('bad_field', 'PUT DATA tag is one or two bytes');
  return encodeCommandApdu({ cla: 0x00, ins: 0xda, p1: tag >> 8, p2: tag & 0xff, data: value });
}

/** STORE DATA (80 E2 P1 P2): P1 bit 8 = last block, P2 = block sequence number. */
export function storeDataCommand(data: Uint8Array, sequence: number, last: boolean): Uint8Array {
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > 0xff)
    throw new ApduError('bad_field', 'sequence number is 0..255');
  return encodeCommandApdu({ cla: 0x80, ins: 0xe2, p1: last ? 0x80 : 0x00, p2: sequence, data });
}
