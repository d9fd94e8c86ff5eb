import type {
  IssueCodeRequest,
  IssueCodeResponse,
  OfflineReceiptRequest,
  OfflineReceiptResponse,
  OutcomeRequest,
  OutcomeResponse,
  PayMerchantRequest,
  PayMerchantResponse,
  ShopperChallengeResponse,
} from '@bluetill/protocol';

/**
 * The backend's shopper-facing listener (service Shopper) as the phone calls it directly, with no
 * till in between (claims 1, 2). The gRPC adapter checks the server's TLS certificate against the
 * backend CA in the trust file, sets a deadline on each call, and retries only what is safe.
 *
 * @example
 *   const ch = await backend.challenge();                 // UN + PIN-key certificate
 *   const res = await backend.issueCode({ unpredictableNumber: ch.unpredictableNumber, card, sealedPinBlock, amountLimit });
 *   const paid = await backend.payMerchant(req);         // same req again → the same result
 */
export interface ShopperBackend {
  challenge(): Promise<ShopperChallengeResponse>;
  /** Not retried: each attempt uses up its UN and may count a PIN try. */
  issueCode(req: IssueCodeRequest): Promise<IssueCodeResponse>;
  /** Retried on a lost answer: exactly once per idempotency key at the backend. */
  payMerchant(req: PayMerchantRequest): Promise<PayMerchantResponse>;
  /** What became of a payment at a till (the card proves itself over a UN); not retried: each attempt uses up its UN. */
  getOutcome(req: OutcomeRequest): Promise<OutcomeResponse>;
  /** The card company's word on a sale a till approved offline (the card proves itself over a UN); not retried: each attempt uses up its UN. */
  getOfflineReceipt(req: OfflineReceiptRequest): Promise<OfflineReceiptResponse>;
  close(): void;
}

/** `not_shopper_listener`: the address answers for tills only (its TLS handshake asks for a till's client certificate). */
export type ShopperBackendErrorCode =
  'unavailable' | 'deadline' | 'rejected' | 'untrusted' | 'not_shopper_listener';

export class ShopperBackendError extends Error {
  constructor(
    readonly code: ShopperBackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ShopperBackendError';
  }
}
