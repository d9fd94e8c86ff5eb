import { ProtocolError } from '../errors';

/** Malformed BER-TLV or DOL input. Messages name the offset, never the value. */
export type TlvErrorCode =
  | 'truncated_tag'
  | 'tag_too_long'
  | 'bad_tag'
  | 'truncated_length'
  | 'bad_length'
  | 'truncated_value'
  | 'too_deep'
  | 'children_on_primitive';

export class TlvError extends ProtocolError<TlvErrorCode> {}

/** Wrong key or parameter sizes handed to the EMV symmetric cryptography. */
export type EmvCryptoErrorCode = 'bad_key_length' | 'bad_input_length' | 'bad_pan' | 'bad_padding';

export class EmvCryptoError extends ProtocolError<EmvCryptoErrorCode> {}

/** Offline data authentication failures (certificate recovery, SDA, DDA, CDA). */
export type OdaErrorCode =
  | 'bad_length'
  | 'bad_key'
  | 'bad_header'
  | 'bad_trailer'
  | 'bad_format'
  | 'unsupported_algorithm'
  | 'hash_mismatch'
  | 'pan_mismatch'
  | 'certificate_expired'
  | 'missing_remainder'
  | 'data_mismatch';

export class OdaError extends ProtocolError<OdaErrorCode> {}

/** Personalization data or commands that do not parse or do not authenticate. */
export type PersonalizationErrorCode = 'bad_data' | 'missing_field' | 'too_large';

export class PersonalizationError extends ProtocolError<PersonalizationErrorCode> {}
