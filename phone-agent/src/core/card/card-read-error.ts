/** Why reading the payment card (or asking it for a cryptogram) failed. Never carries card data. */
export type CardReadErrorCode =
  | 'no_card'
  | 'no_application'
  | 'card_status'
  | 'malformed_response'
  | 'missing_data'
  | 'card_removed'
  | 'transmit_failed'
  | 'bad_input';

export class CardReadError extends Error {
  constructor(
    readonly code: CardReadErrorCode,
    message: string,
    options?: { cause?: unknown; sw?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CardReadError';
    this.sw = options?.sw;
  }
  /** The status word, for code 'card_status'. */
  readonly sw: number | undefined;
}
