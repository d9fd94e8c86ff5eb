/**
 * Storage of cards, merchants, terminals, one-time challenges, authorizations, settlements and
 * the double-entry ledger, split by aggregate (CardStore, RegistryStore, ChallengeStore,
 * AuthorizationStore, SettlementStore, BatchStore, and ShopperStore for the phone-direct flows)
 * and composed as StoreTx: every query is a
 * method of the transaction handle and returns a promise, so a state change and its ledger rows
 * commit together or not at all whatever the database. [HS, BS3]
 * Implementations: SqliteBackendStore (embedded default, group commit) and PostgresBackendStore
 * (one PostgreSQL transaction per commit, the card row as the lock, unique keys as the arbiter).
 *
 * commit(fn) is what the use cases call: fn runs with a transaction handle `tx`, with the
 * transactions of other concurrent requests, and the promise resolves only once its changes are
 * durable; fn sees the changes of the requests before it, and a throw undoes only fn's own
 * changes. fn may run twice (a store may rerun a batch): it must have no effect outside the
 * database that a second run would change, and it awaits nothing but `tx`.
 * read(fn) runs fn on committed data, outside any transaction (lookups, tests); never call it
 * inside commit()'s function (on SQLite it waits for the batch that function is part of).
 *
 * @example
 *   const result = await store.commit(async (tx) => {
 *     const prior = await tx.findSettlement(terminalId, txnId);
 *     if (prior) return prior.response;
 *     ...; await tx.insertSettlement(row); await tx.insertPostings(...);
 *   });
 */
import type { CvmName, DeclineCode } from '@bluetill/protocol';
import type { MerchantCardRow, TemporaryCodeRow } from './shopper-store';

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

/** A card as a Settle reads it: without the PIN's salt and verifier (a Settle checks no PIN). */
export type SettleCard = Omit<CardRow, 'pinSalt' | 'pinVerifier'>;

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

export type CommitErrorCode = 'commit_failed' | 'store_closed' | 'store_unavailable';

/**
 * commit() could not make a transaction durable: its batch did not commit, it kept losing races
 * (`commit_failed`), or the store closed before it ran (`store_closed`). Retrying the request is
 * safe: nothing of it is stored, except on a networked store whose connection was lost around the
 * COMMIT (`commit_failed`, the outcome unknown to this node), where the retry under the same
 * request id finds the first result by its unique key. A read() of a networked store that cannot
 * reach its database (a failover, a restart) is `store_unavailable`: nothing was done, ask again.
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

/** Cards: the card row is the lock of a card's state (ATCs used, PIN tries, available credit). */
export interface CardStore {
  findCardByPanHash(panHash: string): Promise<CardRow | undefined>;
  findCardById(id: string): Promise<CardRow | undefined>;
  setPinTries(cardId: string, tries: number): Promise<void>;
  setLastAtc(cardId: string, atc: number): Promise<void>;
  /**
   * Uses up one of the card's ATCs (a genuine cryptogram carried it) and raises its highest ATC
   * seen (`lastAtc`). false when the card had used this ATC already (nothing written): each ATC is
   * used at most once per card, in whatever order its payments arrive, and the store's unique key
   * (card, ATC) decides between two nodes that try the same one at once.
   */
  useAtc(cardId: string, atc: number): Promise<boolean>;
  /** For a known card, whether useAtc(cardId, atc) would say false now: the ATC is used already, or at or below the card's floor. */
  atcUsed(cardId: string, atc: number): Promise<boolean>;
}

/** Merchants and terminals, and the terminals' client certificates. */
export interface RegistryStore {
  findTerminal(id: string): Promise<TerminalRow | undefined>;
  findTerminalCertificate(fingerprint: string): Promise<TerminalCertificateRow | undefined>;
  findMerchant(id: string): Promise<MerchantRow | undefined>;
}

/** Single-use unpredictable numbers, per terminal. */
export interface ChallengeStore {
  /** false when this terminal already has a challenge with this UN (nothing written). */
  insertChallenge(un: string, terminalId: string, expiresAt: number): Promise<boolean>;
  /** Forgets challenges that expired before `before`. */
  purgeChallenges(before: number): Promise<void>;
  /**
   * Forgets this terminal's challenges expired before `now`, then the unused ones among all but
   * its `keep` newest unexpired ones (by expiry): a used one stays until it expires, so a second
   * use of it is told `used`. Returns how many were forgotten.
   */
  boundChallenges(terminalId: string, now: number, keep: number): Promise<number>;
  /** Marks the challenge used if it is valid now (one conditional update); says what it found. */
  takeChallenge(un: string, terminalId: string, now: number): Promise<ChallengeState>;
}

export interface AuthorizationStore {
  insertAuthorization(row: AuthorizationRow): Promise<void>;
  findAuthorization(ref: string): Promise<AuthorizationRow | undefined>;
  markAuthorizationSettled(ref: string): Promise<void>;
}

/** Settlements (exactly once per terminal and transaction id) and the double-entry ledger. */
export interface SettlementStore {
  findSettlement(terminalId: string, terminalTxnId: string): Promise<SettlementRow | undefined>;
  /** Returns the new settlement's id. */
  insertSettlement(row: SettlementRow): Promise<number>;
  /** Postings of one operation: a sale (adjustmentId null) or an adjustment of that settlement; each currency sums to zero. */
  insertPostings(
    settlementId: number,
    postings: readonly Posting[],
    at: number,
    link: { batchId: number; adjustmentId: number | null },
  ): Promise<void>;
  /** The sale's own postings (not those of its refunds or void). */
  salePostingsOf(settlementId: number): Promise<Posting[]>;
  /** Sum of postings on an account (cardholder accounts go negative as they spend). */
  accountBalance(accountId: string): Promise<number>;
  /** Sum over every posting: zero at every moment. */
  ledgerSum(): Promise<number>;
  /** Sum of the postings in each currency that has any: each zero at every moment. */
  ledgerSumsByCurrency(): Promise<Record<string, number>>;
}

/** End-of-day batches, refunds and voids, and a terminal's transaction list. */
export interface BatchStore {
  /**
   * The terminal's open batch, opened now if there is none. Inside commit() the batch stays open
   * until the transaction ends: an operation recorded into it (`'record'`, the default) holds it
   * against a close; a close (`'close'`) waits for those and holds it against them, so nothing
   * lands in a batch after its totals were computed. A store with one writer has nothing to wait for.
   */
  openBatch(terminalId: string, now: number, use?: 'record' | 'close'): Promise<BatchRow>;
  /** The terminal's open batch, if any; inside commit() held open as by openBatch's `'record'`. */
  findOpenBatch(terminalId: string): Promise<BatchRow | undefined>;
  findBatch(id: number): Promise<BatchRow | undefined>;
  findBatchByCloseRequest(terminalId: string, closeRequestId: string): Promise<BatchRow | undefined>;
  /** Totals from the batch's approved operations (sales, refunds, voids); throws when they are in more than one currency. */
  computeBatchTotals(batchId: number): Promise<BatchTotalsRow>;
  /**
   * Sum of the batch's postings on one account, and `all`: the sum, over each currency, of the
   * absolute value of that currency's postings (zero exactly when every currency balances).
   */
  batchPostingSums(batchId: number, accountId: string): Promise<{ account: number; all: number }>;
  closeBatch(
    batchId: number,
    totals: BatchTotalsRow,
    now: number,
    closeRequestId: string | null,
  ): Promise<void>;
  findAdjustment(
    terminalId: string,
    kind: AdjustmentKind,
    opTxnId: string,
  ): Promise<AdjustmentRow | undefined>;
  insertAdjustment(row: AdjustmentRow): Promise<number>;
  /** Sum of the approved refunds of a settlement. */
  refundedMinor(settlementId: number): Promise<number>;
  /** Sales, refunds and voids of a terminal created in [fromMs, toMs), oldest first, at most `limit`. */
  listTransactions(
    terminalId: string,
    fromMs: number,
    toMs: number,
    limit: number,
  ): Promise<TransactionListRow[]>;
}

/**
 * The phone-direct flows (claims 1, 2, 5-8): shopper challenges, temporary codes, wrong-code
 * attempts and merchant cards. Part of the same transaction handle, so a code is consumed in the
 * same commit as the settlement and ledger rows that consumed it.
 */
export interface ShopperStore {
  /** False (and nothing stored) when this UN is already issued: the caller draws another. */
  insertShopperChallenge(un: string, expiresAt: number): Promise<boolean>;
  /** Marks the challenge used if it is valid now; says what it found. */
  takeShopperChallenge(un: string, now: number): Promise<ChallengeState>;
  /** What takeShopperChallenge would find, changing nothing: a read, to refuse a request before any cryptography is spent on it. */
  peekShopperChallenge(un: string, now: number): Promise<ChallengeState>;
  /** Drops challenges that expired before `before` (used ones stay until then, so a reuse is still seen). */
  purgeShopperChallenges(before: number): Promise<void>;
  insertCode(row: Omit<TemporaryCodeRow, 'id' | 'usedAt'>): Promise<number>;
  /** Every code with this hash (newest first): a live one, or what became of earlier ones. */
  findCodes(codeHash: string): Promise<TemporaryCodeRow[]>;
  /** Throws when the code is already used (nothing changed). */
  markCodeUsed(id: number, settlementId: number, now: number): Promise<void>;
  recordWrongCode(merchantId: string, terminalId: string, at: number): Promise<void>;
  /** Failed codes (wrong, used or expired) keyed in since `since`: at all this merchant's terminals, and at this one terminal of it. */
  countWrongCodes(
    merchantId: string,
    terminalId: string,
    since: number,
  ): Promise<{ merchant: number; terminal: number }>;
  findMerchantCardByPanHash(panHash: string): Promise<MerchantCardRow | undefined>;
  /** Sales, refunds and voids of every terminal of a merchant (tills and merchant cards) in [fromMs, toMs), oldest first. */
  listMerchantTransactions(
    merchantId: string,
    fromMs: number,
    toMs: number,
    limit: number,
  ): Promise<Array<TransactionListRow & { readonly terminalId: string }>>;
}

/** One transaction's handle: every query of the store, each a promise. Valid only inside the commit() or read() that gave it. */
export interface StoreTx
  extends
    CardStore,
    RegistryStore,
    ChallengeStore,
    AuthorizationStore,
    SettlementStore,
    BatchStore,
    ShopperStore {}

/** What a Settle decides on, by the request's keys. */
export interface SettleQuery {
  readonly terminalId: string;
  readonly terminalTxnId: string;
  readonly panHash: string;
  readonly authorizationRef: string;
  /** The cryptogram's ATC (-1: none). */
  readonly atc: number;
}

/**
 * The rows a Settle is decided on, read together. With `prior` (the id has a stored answer) the
 * rest may be left out: the answer is that one's.
 */
export interface SettleFacts {
  readonly prior: Pick<SettlementRow, 'requestHash' | 'response'> | undefined;
  readonly terminal: TerminalRow | undefined;
  readonly merchant: MerchantRow | undefined;
  readonly card: SettleCard | undefined;
  /** The card's account balance (0 without a card). */
  readonly balanceMinor: number;
  readonly authorization: AuthorizationRow | undefined;
  /** CardStore.atcUsed for the query's ATC (false without a card or an ATC). */
  readonly atcUsed: boolean;
}

/** What a Settle writes: everything or nothing. */
export interface SettleWrites {
  /** The genuine cryptogram's ATC, used up whatever the outcome. */
  readonly useAtc?: { readonly cardId: string; readonly atc: number };
  /** The result (its batch: the terminal's open batch when approved, else none). */
  readonly settlement: Omit<SettlementRow, 'id' | 'batchId'>;
  /** The sale's balanced postings (none when declined), in the settlement's batch. */
  readonly postings: readonly Posting[];
  /** The card's PIN tries become this (its cryptogram said the PIN is locked). */
  readonly pinTries?: { readonly cardId: string; readonly tries: number };
  /** The authorization this approved sale used up. */
  readonly settleAuthorization?: string;
}

/** A Settle's decision: its answer, and what to write for it (nothing: a stored answer replayed). */
export interface SettleDecision<R> {
  readonly answer: R;
  readonly writes?: SettleWrites;
}

export interface BackendStore {
  /** Runs fn in a transaction (shared with concurrent requests where the store groups them); resolves once it is durable. */
  commit<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /**
   * Optional: a Settle as one read and one atomic write, for a networked store where every
   * statement inside commit() costs a round trip. Reads `q`'s facts without locks, calls `decide`
   * (pure: no effect outside its answer; it may be called again), and writes its decision only if
   * the card's row and balance are still the ones it was decided on (checked under the card's
   * lock, in the same statement); else reads again. Resolves once durable, or with undefined when
   * the card kept changing (nothing written): then run the Settle in commit(). The same errors as
   * commit(); what `decide` throws is thrown, nothing written.
   */
  settleOnce?<R>(
    q: SettleQuery,
    decide: (facts: SettleFacts) => SettleDecision<R>,
  ): Promise<{ answer: R } | undefined>;
  /** Runs fn on committed data, at once; fn must not write. */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Rejects what is still queued (CommitError 'store_closed'), then closes (at once where it can). */
  close(): void | Promise<void>;
}
