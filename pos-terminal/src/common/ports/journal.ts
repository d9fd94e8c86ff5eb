import type { AttemptState } from '../payment-attempt';

/**
 * The till's durable journal of settlement attempts: written before a request leaves and after
 * its answer arrives, so a crash or a lost answer is resolved by asking, never by guessing.
 *
 * @example
 *   await journal.begin({ terminalTxnId, basketId, request }); // state 'pending', on disk
 *   journal.finish(terminalTxnId, 'approved', response);
 *   for (const a of journal.unresolved()) ...               // after a restart
 */
export interface AttemptRecord {
  readonly terminalTxnId: string;
  readonly basketId: string;
  readonly state: AttemptState;
  /**
   * Encoded SettleRequest, or SettleWithCodeRequest with the code left out (pay with code), while
   * the outcome is unknown ('pending', 'unresolved'); empty once it is known (the card data is
   * wiped: what stays is the amount, the masked card number and the request's hash).
   */
  readonly request: Uint8Array;
  readonly amountMinor: number | null;
  readonly maskedPan: string | null;
  /** SHA-256 of the encoded request. */
  readonly requestHash: Uint8Array | null;
  /** Encoded SettleResponse, once known. */
  readonly response: Uint8Array | null;
  readonly updatedAt: number;
}

export interface Journal {
  /**
   * The write-ahead record, state 'pending': visible at once (a second begin for the basket sees
   * it); resolves once it is on disk, so the request may leave. Nothing is sent before that.
   */
  begin(a: {
    terminalTxnId: string;
    basketId: string;
    request: Uint8Array;
    at: number;
    amountMinor?: number;
    maskedPan?: string;
  }): Promise<void>;
  transition(terminalTxnId: string, to: AttemptState, response: Uint8Array | null, at: number): void;
  get(terminalTxnId: string): AttemptRecord | undefined;
  /** Attempts whose outcome the till does not know ('pending' after a crash, or 'unresolved'). */
  unresolved(): AttemptRecord[];
  forBasket(basketId: string): AttemptRecord[];
  /**
   * Refunds and closes whose answer never came: the id they were sent with, kept until the backend
   * answers, so asking again (even after a restart) reuses it and nothing is refunded or closed twice.
   */
  pendingOperation(kind: PendingKind, key: string): string | undefined;
  recordPendingOperation(kind: PendingKind, key: string, operationId: string, at: number): void;
  clearPendingOperation(kind: PendingKind, key: string): void;
  /**
   * The resume token of an authorized payment, as a hash (the token is the phone's secret), kept
   * across restarts so a phone that lost its link can still fetch its receipt. Older than
   * `purgeBefore` are forgotten.
   */
  recordResumeToken(r: {
    terminalTxnId: string;
    basketId: string;
    tokenHash: Uint8Array;
    at: number;
    purgeBefore: number;
  }): void;
  resumeToken(
    terminalTxnId: string,
  ): { readonly basketId: string; readonly tokenHash: Uint8Array } | undefined;
  close(): void;
}

export type PendingKind = 'refund' | 'close';
