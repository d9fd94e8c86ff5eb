/** Expected failures on the phone, each with a code the CLI maps to a message and an exit code. */
export type PhoneErrorCode =
  | 'no_till'
  | 'till_untrusted'
  | 'link_lost'
  | 'timeout'
  | 'protocol'
  | 'card'
  | 'card_unauthentic'
  | 'cvm_unsupported'
  | 'receipt_invalid'
  | 'receipt_mismatch'
  /** The till's answer after the Payment is not an outcome the settlement server signed. */
  | 'outcome_unknown'
  | 'till_error'
  | 'backend_untrusted';

export class PhoneError extends Error {
  constructor(
    readonly code: PhoneErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PhoneError';
  }
}
