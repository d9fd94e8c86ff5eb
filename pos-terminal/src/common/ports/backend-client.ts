import type {
  AuthorizeRequest,
  AuthorizeResponse,
  CancelRequest,
  ChallengeResponse,
  CloseBatchResponse,
  ListTransactionsResponse,
  Money,
  RefundResponse,
  SettleRequest,
  SettleResponse,
  SettleWithCodeRequest,
  VoidResponse,
} from '@bluetill/protocol';
import { TERMINAL_REFUSAL_TEXT, type TerminalRefusalReason } from '@bluetill/protocol';

/**
 * The till's view of the settlement network. Implementations set deadlines and retry only what
 * is safe to retry (settlement is idempotent on the terminal transaction id; authorization only
 * where the repeat cannot be mistaken for the card's answer, because each attempt uses up a
 * single-use UN and may count a PIN try: backend-client.grpc.ts says when). Refund is
 * idempotent on its refund id, Void on the sale, CloseBatch on its close request id: all retried.
 *
 * @example
 *   const { unpredictableNumber, pinKeyCertificate } = await backend.challenge();
 *   const res = await backend.settle(req);          // same req again → same result
 *   const r = await backend.refund({ terminalTxnId, refundTxnId, amount: { minor: 500, currency: 'EUR' } });
 *   const day = await backend.closeBatch(closeRequestId);   // day.totals.netMinor
 */
export interface BackendClient {
  challenge(): Promise<ChallengeResponse>;
  authorize(req: AuthorizeRequest): Promise<AuthorizeResponse>;
  settle(req: SettleRequest): Promise<SettleResponse>;
  /** A sale paid with a shopper's temporary password; idempotent on the terminal transaction id like settle. */
  settleWithCode(req: SettleWithCodeRequest): Promise<SettleResponse>;
  /**
   * Ends a payment before settling it: the settlement server records the transaction id as
   * declined (the till's reason) or cancelled, signs that, and uses up the authorization and the
   * cryptogram's ATC. Idempotent on the terminal transaction id (an id with a result gets it back).
   */
  cancel(req: CancelRequest): Promise<SettleResponse>;
  /** Asks what became of a settlement: the response, or null if it never reached the ledger. */
  getSettlement(terminalTxnId: string): Promise<SettleResponse | null>;
  /** Part or all of a sale back to the card; the same refundTxnId again → the same result. */
  refund(req: { terminalTxnId: string; refundTxnId: string; amount: Money }): Promise<RefundResponse>;
  /** Cancels a sale of the open batch that has no refunds; asking again → the same void. */
  voidSale(terminalTxnId: string): Promise<VoidResponse>;
  /** Closes this terminal's open batch; the same closeRequestId again → the same batch. */
  closeBatch(closeRequestId: string): Promise<CloseBatchResponse>;
  /** This terminal's sales, refunds and voids in [fromMs, toMs) (toMs 0: until now). */
  listTransactions(fromMs: number, toMs: number): Promise<ListTransactionsResponse>;
  /**
   * Whether the payment network serves, without side effects (the backend's health service);
   * rejects with a BackendError when it does not. Clients without it are probed by a settlement
   * lookup that cannot exist.
   */
  probe?(): Promise<void>;
  /**
   * How many of the backend's nodes serve, as the client last found them (a client balancing over
   * several nodes); absent for a client with one address.
   */
  nodes?(): { readonly up: number; readonly total: number };
  close(): void;
}

/** `refused`: the card company refuses this till itself (its certificate revoked or unknown); `reason` says why. */
export type BackendErrorCode = 'unavailable' | 'rejected' | 'deadline' | 'refused';

export class BackendError extends Error {
  /** For code `refused`: the card company's reason (protocol's TerminalRefusalReason), when it gave one. */
  readonly reason: TerminalRefusalReason | undefined;
  /**
   * The card company could not be reached at all: no connection to it was established for this
   * call, so nothing of the call reached it (only then may the till approve offline). False for a
   * call that may have been in flight (a dropped connection, a deadline): its outcome is asked.
   */
  readonly unreachable: boolean;
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown; reason?: TerminalRefusalReason; unreachable?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackendError';
    this.reason = options?.reason;
    this.unreachable = code === 'unavailable' && options?.unreachable === true;
  }
}

/** The card company's refusal of this till in words: "the card company refused this till (certificate revoked)". */
export const refusalText = (reason: TerminalRefusalReason | undefined): string =>
  `the card company refused this till${reason ? ` (${TERMINAL_REFUSAL_TEXT[reason]})` : ''}`;
