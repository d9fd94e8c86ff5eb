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
  /** For till_error: the code of the till's Error message (e.g. `cvm_method_unknown`), as the till sent it. */
  readonly tillCode: string | undefined;
  constructor(
    readonly code: PhoneErrorCode,
    message: string,
    options?: { cause?: unknown; tillCode?: string },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PhoneError';
    this.tillCode = options?.tillCode;
  }
}
