import { ProtocolError } from '../errors';

/** An APDU that does not parse (short APDUs only: extended lengths are rejected). */
export type ApduErrorCode = 'too_short' | 'bad_length' | 'extended_length' | 'bad_field';

export class ApduError extends ProtocolError<ApduErrorCode> {}
