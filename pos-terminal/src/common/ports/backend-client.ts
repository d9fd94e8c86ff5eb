import type { AuthorizeRequest, AuthorizeResponse, ChallengeResponse, SettleRequest, SettleResponse } from '@bluetill/protocol';

/**
 * The till's view of the settlement network. Implementations set deadlines and retry only what
 * is safe to retry (settlement is idempotent on the terminal transaction id; authorization is not
 * retried, because each attempt uses up a single-use UN and may count a PIN try).
 *
 * @example
 *   const { unpredictableNumber, pinKeyCertificate } = await backend.challenge();
 *   const res = await backend.settle(req);          // same req again → same result
 */
export interface BackendClient {
  challenge(): Promise<ChallengeResponse>;
  authorize(req: AuthorizeRequest): Promise<AuthorizeResponse>;
  settle(req: SettleRequest): Promise<SettleResponse>;
  /** Asks what became of a settlement: the response, or null if it never reached the ledger. */
  getSettlement(terminalTxnId: string): Promise<SettleResponse | null>;
  close(): void;
}

export type BackendErrorCode = 'unavailable' | 'rejected' | 'deadline';

export class BackendError extends Error {
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackendError';
  }
}
