import { ProtocolError } from '../errors';

/** Status words this project sends or expects (ISO/IEC 7816-4, EMV Book 3 / Book 1). */
export const SW = {
  OK: 0x9000,
  WARNING_STATE_UNCHANGED: 0x6200,
  WRONG_LENGTH: 0x6700,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTHENTICATION_METHOD_BLOCKED: 0x6983,
  REFERENCED_DATA_INVALIDATED: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  COMMAND_NOT_ALLOWED: 0x6986,
  SM_DATA_INCORRECT: 0x6988,
  WRONG_DATA: 0x6a80,
  FUNCTION_NOT_SUPPORTED: 0x6a81,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  NOT_ENOUGH_MEMORY: 0x6a84,
  INCORRECT_P1P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  WRONG_P1P2: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  UNKNOWN: 0x6f00,
} as const;

/** 6Cxx: wrong Le, xx the exact length available (00 = 256). */
export const swWrongLe = (available: number): number =>
  0x6c00 | (Math.max(0, Math.min(256, available)) & 0xff);

/** 63Cx: verification failed, x tries left. */
export const swTriesLeft = (tries: number): number => 0x63c0 | (Math.max(0, Math.min(15, tries)) & 0x0f);

const TEXT: Record<number, string> = {
  0x9000: 'success',
  0x6200: 'warning: state of non-volatile memory unchanged',
  0x6281: 'warning: part of returned data may be corrupted',
  0x6283: 'warning: selected file invalidated',
  0x6700: 'wrong length',
  0x6881: 'logical channel not supported',
  0x6882: 'secure messaging not supported',
  0x6981: 'command incompatible with file structure',
  0x6982: 'security status not satisfied',
  0x6983: 'authentication method blocked',
  0x6984: 'referenced data invalidated',
  0x6985: 'conditions of use not satisfied',
  0x6986: 'command not allowed (no current EF)',
  0x6987: 'expected secure messaging data objects missing',
  0x6988: 'secure messaging data objects incorrect',
  0x6a80: 'incorrect parameters in the data field',
  0x6a81: 'function not supported',
  0x6a82: 'file or application not found',
  0x6a83: 'record not found',
  0x6a84: 'not enough memory space in the file',
  0x6a86: 'incorrect parameters P1-P2',
  0x6a88: 'referenced data not found',
  0x6b00: 'wrong parameters P1-P2',
  0x6d00: 'instruction code not supported or invalid',
  0x6e00: 'class not supported',
  0x6f00: 'no precise diagnosis',
};

/** Human-readable text for a status word (no card data in it). */
export function describeStatusWord(sw: number): string {
  const hex = sw.toString(16).toUpperCase().padStart(4, '0');
  const known = TEXT[sw];
  if (known) return `${hex} ${known}`;
  const sw1 = sw >> 8;
  if (sw1 === 0x61) return `${hex} ${sw & 0xff} more bytes available (GET RESPONSE)`;
  if (sw1 === 0x6c) return `${hex} wrong Le: exact length is ${sw & 0xff}`;
  if ((sw & 0xfff0) === 0x63c0) return `${hex} verification failed, ${sw & 0x0f} tries left`;
  if (sw1 === 0x63) return `${hex} warning: state of non-volatile memory changed`;
  if (sw1 === 0x64 || sw1 === 0x65) return `${hex} execution error`;
  return `${hex} unknown status`;
}

export type CardStatusCode =
  | 'file_not_found'
  | 'record_not_found'
  | 'conditions_not_satisfied'
  | 'security_status_not_satisfied'
  | 'pin_incorrect'
  | 'blocked'
  | 'wrong_length'
  | 'wrong_data'
  | 'incorrect_p1p2'
  | 'referenced_data_not_found'
  | 'ins_not_supported'
  | 'cla_not_supported'
  | 'other';

export function statusCode(sw: number): CardStatusCode {
  if ((sw & 0xfff0) === 0x63c0) return 'pin_incorrect';
  switch (sw) {
    case 0x6a82:
      return 'file_not_found';
    case 0x6a83:
      return 'record_not_found';
    case 0x6985:
      return 'conditions_not_satisfied';
    case 0x6982:
      return 'security_status_not_satisfied';
    case 0x6983:
    case 0x6984:
      return 'blocked';
    case 0x6700:
      return 'wrong_length';
    case 0x6a80:
      return 'wrong_data';
    case 0x6a86:
    case 0x6b00:
      return 'incorrect_p1p2';
    case 0x6a88:
      return 'referenced_data_not_found';
    case 0x6d00:
      return 'ins_not_supported';
    case 0x6e00:
      return 'cla_not_supported';
    default:
      return 'other';
  }
}

/** The card answered a status word other than the one expected. */
export class CardStatusError extends ProtocolError<CardStatusCode> {
  /** Tries left for 63Cx, else undefined. */
  readonly triesLeft: number | undefined;
  constructor(
    readonly sw: number,
    context = 'card',
  ) {
    super(statusCode(sw), `${context}: ${describeStatusWord(sw)}`);
    this.triesLeft = (sw & 0xfff0) === 0x63c0 ? sw & 0x0f : undefined;
  }
}
