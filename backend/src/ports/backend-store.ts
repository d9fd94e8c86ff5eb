/**
 * Storage of cards, merchants, terminals, one-time challenges, authorizations, settlements and
 * the double-entry ledger. Every method is synchronous and runs inside commit() (or
 * transaction()), so a state change and its ledger rows commit together or not at all. [HS, BS3]
 * Implementations: SqliteBackendStore (embedded default); a PostgreSQL one can implement it too.
 *
 * commit(fn) is what the use cases call: fn runs with the transactions of other concurrent
 * requests and the promise resolves only once its changes are durable (group commit, one fsync
 * for many requests); fn sees the changes of the requests before it, and a throw undoes only
 * fn's own changes. transaction(fn) runs fn alone, at once (admin tool, tests).
 *
 * @example
 *   const result = await store.commit(() => {
 *     const prior = store.findSettlement(terminalId, txnId);
 *     if (prior) return prior.response;
 *     ...; store.insertSettlement(row); store.insertPostings(rows);
 *   });
 */
import type { CvmName, DeclineCode } from '@bluetill/protocol';

export type CardStatus = 'active' | 'blocked' | 'lost' | 'stolen';
export type MerchantStatus = 'active' | 'inactive';
export type TerminalStatus = 'active' | 'revoked';

export interface CardRow {
  readonly id: string;
  readonly panHash: string;
  readonly panMasked: string;
  readonly panSequence: number;
  readonly expiry: string; // YYMM
  readonly cardholderName: string;
  readonly status: CardStatus;
  readonly pinSalt: Uint8Array;
  readonly pinVerifier: Uint8Array;
  readonly pinTries: number;
  readonly creditLimitMinor: number;
  readonly currency: string;
  readonly accountId: string;
  readonly lastAtc: number;
}

export interface MerchantRow {
  readonly id: string;
  readonly name: string;
  readonly status: MerchantStatus;
  readonly accountId: string;
  /** The one currency the merchant accepts: its account's (accounts.currency). */
  readonly currency: string;
}

export interface TerminalRow {
  readonly id: string;
  readonly merchantId: string;
  readonly status: TerminalStatus;
}

/** A terminal's mutual-TLS client certificate as issued (fingerprint: SHA-256 of the DER, hex, upper case with colons as Node prints it). */
export interface TerminalCertificateRow {
  readonly fingerprint: string;
  readonly terminalId: string;
  readonly serial: string;
  readonly notAfter: number;
  readonly issuedAt: number;
  readonly revokedAt: number | null;
}

export interface AuthorizationRow {
  readonly ref: string;
  readonly cardId: string;
  readonly terminalId: string;
  readonly un: string;
  readonly expiresAt: number;
  readonly settled: boolean;
  /** The cardholder verification declared at authorization; settlement enforces it against the card's CVR. */
  readonly cvm: CvmName;
}

export interface SettlementRow {
  readonly id?: number;
  readonly terminalId: string;
  readonly terminalTxnId: string;
  readonly requestHash: Uint8Array;
  readonly approved: boolean;
  readonly declineReason: DeclineCode | null;
  readonly amountMinor: number;
  readonly currency: string;
  readonly cardId: string | null;
  readonly merchantId: string;
  /** The encoded SettleResponse, returned unchanged on a retry. */
  readonly response: Uint8Array;
  readonly createdAt: number;
  /** The batch an approved sale belongs to; null when declined. */
  readonly batchId: number | null;
}

export type AdjustmentKind = 'refund' | 'void';

/** A refund or a void of a settlement, with its stored response (a retry returns it). */
export interface AdjustmentRow {
  readonly id?: number;
  readonly kind: AdjustmentKind;
  readonly terminalId: string;
  /** refund: the refund's id; void: the voided sale's id (one void per sale). */
  readonly opTxnId: string;
  readonly originalTxnId: string;
  readonly settlementId: number | null;
  readonly batchId: number | null;
  readonly requestHash: Uint8Array;
  readonly approved: boolean;
  readonly declineReason: DeclineCode | null;
  readonly amountMinor: number;
  readonly currency: string;
  readonly response: Uint8Array;
  readonly createdAt: number;
}

export interface BatchTotalsRow {
  readonly currency: string;
  readonly saleCount: number;
  readonly saleMinor: number;
  readonly refundCount: number;
  readonly refundMinor: number;
  readonly voidCount: number;
  readonly voidMinor: number;
  readonly netMinor: number;
}

export interface BatchRow {
  readonly id: number;
  readonly terminalId: string;
  readonly status: 'open' | 'closed';
  readonly openedAt: number;
  readonly closedAt: number | null;
  readonly closeRequestId: string | null;
  /** Stored at close; null while open. */
  readonly totals: BatchTotalsRow | null;
}

/** One line of a terminal's transaction list (masked PAN only). */
export interface TransactionListRow {
  readonly kind: 'sale' | AdjustmentKind;
  readonly terminalTxnId: string;
  readonly originalTxnId: string;
  readonly approved: boolean;
  readonly declineReason: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly maskedPan: string;
  readonly batchId: number;
  readonly createdAt: number;
}

export interface Posting {
  readonly accountId: string;
  readonly amountMinor: number;
  readonly currency: string;
}

export type ChallengeState = 'ok' | 'unknown' | 'used' | 'expired';

export type CommitErrorCode = 'commit_failed' | 'store_closed';

/**
 * commit() could not make a transaction durable: its batch did not commit, or the store closed
 * before it ran. Nothing of the request is stored, so retrying it is safe.
 */
export class CommitError extends Error {
  constructor(
    readonly code: CommitErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommitError';
  }
}

export interface BackendStore {
  /** Runs fn (synchronous) in a transaction shared with concurrent requests; resolves once it is durable. */
  commit<T>(fn: () => T): Promise<T>;
  /** Runs fn (synchronous) in a transaction of its own, at once. */
  transaction<T>(fn: () => T): T;
  findTerminal(id: string): TerminalRow | undefined;
  findTerminalCertificate(fingerprint: string): TerminalCertificateRow | undefined;
  findMerchant(id: string): MerchantRow | undefined;
  findCardByPanHash(panHash: string): CardRow | undefined;
  setPinTries(cardId: string, tries: number): void;
  setLastAtc(cardId: string, atc: number): void;
  /** false when this terminal already has a challenge with this UN (nothing written). */
  insertChallenge(un: string, terminalId: string, expiresAt: number): boolean;
  /** Forgets challenges that expired before `before`. */
  purgeChallenges(before: number): void;
  /**
   * Forgets this terminal's challenges expired before `now`, then all but its `keep` newest
   * unexpired ones (by expiry). Returns how many were forgotten.
   */
  boundChallenges(terminalId: string, now: number, keep: number): number;
  /** Marks the challenge used if it is valid now; says what it found. */
  takeChallenge(un: string, terminalId: string, now: number): ChallengeState;
  insertAuthorization(row: AuthorizationRow): void;
  findAuthorization(ref: string): AuthorizationRow | undefined;
  markAuthorizationSettled(ref: string): void;
  findSettlement(terminalId: string, terminalTxnId: string): SettlementRow | undefined;
  /** Returns the new settlement's id. */
  insertSettlement(row: SettlementRow): number;
  /** Postings of one operation: a sale (adjustmentId null) or an adjustment of that settlement. */
  insertPostings(settlementId: number, postings: readonly Posting[], at: number, link: { batchId: number; adjustmentId: number | null }): void;
  findCardById(id: string): CardRow | undefined;
  /** The sale's own postings (not those of its refunds or void). */
  salePostingsOf(settlementId: number): Posting[];
  /** The terminal's open batch, opened now if there is none. */
  openBatch(terminalId: string, now: number): BatchRow;
  findOpenBatch(terminalId: string): BatchRow | undefined;
  findBatch(id: number): BatchRow | undefined;
  findBatchByCloseRequest(terminalId: string, closeRequestId: string): BatchRow | undefined;
  /** Totals from the batch's approved operations (sales, refunds, voids); throws when they are in more than one currency. */
  computeBatchTotals(batchId: number): BatchTotalsRow;
  /**
   * Sum of the batch's postings on one account, and `all`: the sum, over each currency, of the
   * absolute value of that currency's postings (zero exactly when every currency balances).
   */
  batchPostingSums(batchId: number, accountId: string): { account: number; all: number };
  closeBatch(batchId: number, totals: BatchTotalsRow, now: number, closeRequestId: string | null): void;
  findAdjustment(terminalId: string, kind: AdjustmentKind, opTxnId: string): AdjustmentRow | undefined;
  insertAdjustment(row: AdjustmentRow): number;
  /** Sum of the approved refunds of a settlement. */
  refundedMinor(settlementId: number): number;
  /** Sales, refunds and voids of a terminal created in [fromMs, toMs), oldest first, at most `limit`. */
  listTransactions(terminalId: string, fromMs: number, toMs: number, limit: number): TransactionListRow[];
  /** Sum of postings on an account (cardholder accounts go negative as they spend). */
  accountBalance(accountId: string): number;
  /** Sum over every posting: zero at every moment. */
  ledgerSum(): number;
  /** Sum of the postings in each currency that has any: each zero at every moment. */
  ledgerSumsByCurrency(): Record<string, number>;
  close(): void;
}
