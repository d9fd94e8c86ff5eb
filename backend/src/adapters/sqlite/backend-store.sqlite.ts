import type { DeclineCode } from '@bluetill/protocol';
import { batchTotalsOf, toBatch, type BatchDbRow, type BatchGroup } from '../batch-row';
import type {
  AdjustmentKind,
  AdjustmentRow,
  AuthorizationRow,
  BackendStore,
  BatchRow,
  BatchTotalsRow,
  CardRow,
  ChallengeState,
  MerchantRow,
  Posting,
  SettlementRow,
  StoreTx,
  TerminalCertificateRow,
  TerminalRow,
  TransactionListRow,
} from '../../ports/backend-store';

const CARD_COLUMNS = `id, pan_hash AS panHash, pan_masked AS panMasked, pan_sequence AS panSequence, expiry,
  cardholder_name AS cardholderName, status, pin_salt AS pinSalt, pin_verifier AS pinVerifier,
  pin_tries AS pinTries, credit_limit_minor AS creditLimitMinor, currency, account_id AS accountId, last_atc AS lastAtc`;
const BATCH_COLUMNS = `id, terminal_id AS terminalId, status, opened_at AS openedAt, closed_at AS closedAt, close_request_id AS closeRequestId,
  currency, sale_count AS saleCount, sale_minor AS saleMinor, refund_count AS refundCount, refund_minor AS refundMinor,
  void_count AS voidCount, void_minor AS voidMinor, net_minor AS netMinor`;
const ADJUSTMENT_COLUMNS = `id, kind, terminal_id AS terminalId, op_txn_id AS opTxnId, original_txn_id AS originalTxnId, settlement_id AS settlementId,
  batch_id AS batchId, request_hash AS requestHash, approved, decline_reason AS declineReason, amount_minor AS amountMinor, currency, response,
  created_at AS createdAt`;

import { openDatabase, type Db } from './open-database';
import { GroupCommitter, type GroupCommitOptions } from './group-committer';
import { SqliteShopperStore } from './shopper-store.sqlite';

/** Group commits so far: how many, how many transactions they carried, the largest batch, how many ran twice (GroupCommitter: one of them threw). */
export interface CommitCounts {
  readonly commits: number;
  readonly transactions: number;
  readonly largest: number;
  readonly reruns: number;
}

/**
 * BackendStore on one SQLite file (better-sqlite3, group commit). better-sqlite3 is synchronous:
 * the port's transaction handle (`tx`) wraps the synchronous queries below, each promise resolved
 * at once, so a batch of async transactions still runs to its COMMIT within one event-loop turn.
 * The synchronous queries stay public for what runs on this adapter alone (its own tests, the
 * demo seed); everything else goes through commit() and read().
 */
export class SqliteBackendStore implements BackendStore {
  readonly db: Db;
  /** The phone-direct flows' queries on the same connection (part of the transaction handle). */
  readonly shopper: SqliteShopperStore;
  private readonly stmt;
  private readonly tx: StoreTx;
  private readonly committer: GroupCommitter;
  private readonly stats = { commits: 0, transactions: 0, largest: 0, reruns: 0 };

  constructor(path: string, options: { groupCommit?: GroupCommitOptions } = {}) {
    this.db = openDatabase(path);
    this.shopper = new SqliteShopperStore(this.db);
    this.tx = sqliteTx(this, this.shopper);
    const onCommit = options.groupCommit?.onCommit;
    this.committer = new GroupCommitter(this.db, {
      ...options.groupCommit,
      onCommit: (s) => {
        this.stats.commits++;
        this.stats.transactions += s.size;
        this.stats.largest = Math.max(this.stats.largest, s.size);
        if (s.rerun) this.stats.reruns++;
        onCommit?.(s);
      },
    });
    const p = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      terminal: p('SELECT id, merchant_id AS merchantId, status FROM terminals WHERE id = ?'),
      terminalCertificate:
        p(`SELECT fingerprint, terminal_id AS terminalId, serial, not_after AS notAfter, issued_at AS issuedAt,
                                revoked_at AS revokedAt FROM terminal_certificates WHERE fingerprint = ?`),
      merchant: p(
        'SELECT m.id, m.name, m.status, m.account_id AS accountId, a.currency FROM merchants m JOIN accounts a ON a.id = m.account_id WHERE m.id = ?',
      ),
      card: p(`SELECT ${CARD_COLUMNS} FROM cards WHERE pan_hash = ?`),
      cardById: p(`SELECT ${CARD_COLUMNS} FROM cards WHERE id = ?`),
      setPinTries: p('UPDATE cards SET pin_tries = ? WHERE id = ?'),
      setLastAtc: p('UPDATE cards SET last_atc = ? WHERE id = ?'),
      // ATCs at or below the card's floor (its highest when the used-set began) count as used.
      useAtc: p(
        'INSERT INTO card_atcs (card_id, atc) SELECT id, @atc FROM cards WHERE id = @card AND atc_floor < @atc ON CONFLICT DO NOTHING',
      ),
      raiseLastAtc: p('UPDATE cards SET last_atc = max(last_atc, @atc) WHERE id = @card'),
      atcUsed: p(
        'SELECT atc_floor >= @atc OR EXISTS (SELECT 1 FROM card_atcs WHERE card_id = @card AND atc = @atc) AS used FROM cards WHERE id = @card',
      ),
      insertChallenge: p(
        'INSERT INTO challenges (un, terminal_id, expires_at) VALUES (?, ?, ?) ON CONFLICT (un, terminal_id) DO NOTHING',
      ),
      challenge: p(
        'SELECT expires_at AS expiresAt, used_at AS usedAt FROM challenges WHERE un = ? AND terminal_id = ?',
      ),
      useChallenge: p(
        'UPDATE challenges SET used_at = ? WHERE un = ? AND terminal_id = ? AND used_at IS NULL AND expires_at >= ?',
      ),
      purgeChallenges: p('DELETE FROM challenges WHERE expires_at < ?'),
      // Both parts walk the (terminal_id, expires_at) index (migration 0008).
      boundChallenges:
        p(`DELETE FROM challenges WHERE terminal_id = @t AND (expires_at < @now OR (used_at IS NULL AND rowid IN (
                            SELECT rowid FROM challenges WHERE terminal_id = @t AND expires_at >= @now ORDER BY expires_at DESC, rowid DESC LIMIT -1 OFFSET @keep)))`),
      insertAuthorization: p(
        'INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at, cvm) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      authorization: p(
        'SELECT ref, card_id AS cardId, terminal_id AS terminalId, un, expires_at AS expiresAt, settled, cvm FROM authorizations WHERE ref = ?',
      ),
      settleAuthorization: p('UPDATE authorizations SET settled = 1 WHERE ref = ?'),
      settlement:
        p(`SELECT id, terminal_id AS terminalId, terminal_txn_id AS terminalTxnId, request_hash AS requestHash, approved,
                       decline_reason AS declineReason, amount_minor AS amountMinor, currency, card_id AS cardId,
                       merchant_id AS merchantId, response, created_at AS createdAt, batch_id AS batchId
                     FROM settlements WHERE terminal_id = ? AND terminal_txn_id = ?`),
      insertSettlement:
        p(`INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor,
                             currency, card_id, merchant_id, response, created_at, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertPosting:
        p(`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id, adjustment_id)
                          VALUES (?, ?, ?, ?, ?, ?, ?)`),
      openBatchOf: p(`SELECT ${BATCH_COLUMNS} FROM batches WHERE terminal_id = ? AND status = 'open'`),
      batch: p(`SELECT ${BATCH_COLUMNS} FROM batches WHERE id = ?`),
      batchByCloseRequest: p(
        `SELECT ${BATCH_COLUMNS} FROM batches WHERE terminal_id = ? AND close_request_id = ?`,
      ),
      insertBatch: p("INSERT INTO batches (terminal_id, status, opened_at) VALUES (?, 'open', ?)"),
      closeBatch:
        p(`UPDATE batches SET status = 'closed', closed_at = ?, close_request_id = ?, currency = ?, sale_count = ?, sale_minor = ?,
                       refund_count = ?, refund_minor = ?, void_count = ?, void_minor = ?, net_minor = ? WHERE id = ? AND status = 'open'`),
      batchSales: p(
        'SELECT currency AS c, COUNT(*) AS n, SUM(amount_minor) AS s FROM settlements WHERE batch_id = ? AND approved = 1 GROUP BY currency',
      ),
      batchAdjustments: p(
        'SELECT currency AS c, COUNT(*) AS n, SUM(amount_minor) AS s FROM adjustments WHERE batch_id = ? AND approved = 1 AND kind = ? GROUP BY currency',
      ),
      batchPostings: p(`SELECT COALESCE(SUM(account), 0) AS account, COALESCE(SUM(ABS(s)), 0) AS "all" FROM (
                          SELECT SUM(CASE WHEN account_id = ? THEN amount_minor ELSE 0 END) AS account, SUM(amount_minor) AS s
                          FROM postings WHERE batch_id = ? GROUP BY currency)`),
      adjustment: p(
        `SELECT ${ADJUSTMENT_COLUMNS} FROM adjustments WHERE terminal_id = ? AND kind = ? AND op_txn_id = ?`,
      ),
      insertAdjustment:
        p(`INSERT INTO adjustments (kind, terminal_id, op_txn_id, original_txn_id, settlement_id, batch_id, request_hash, approved,
                             decline_reason, amount_minor, currency, response, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      salePostings: p(
        'SELECT account_id AS accountId, amount_minor AS amountMinor, currency FROM postings WHERE settlement_id = ? AND adjustment_id IS NULL ORDER BY id',
      ),
      refunded: p(
        "SELECT COALESCE(SUM(amount_minor), 0) AS s FROM adjustments WHERE settlement_id = ? AND kind = 'refund' AND approved = 1",
      ),
      transactions:
        p(`SELECT kind, terminalTxnId, originalTxnId, approved, declineReason, amountMinor, currency, maskedPan, batchId, createdAt FROM (
          SELECT 'sale' AS kind, s.terminal_txn_id AS terminalTxnId, '' AS originalTxnId, s.approved, COALESCE(s.decline_reason, '') AS declineReason,
                 s.amount_minor AS amountMinor, s.currency, COALESCE(c.pan_masked, '') AS maskedPan, COALESCE(s.batch_id, 0) AS batchId,
                 s.created_at AS createdAt, 0 AS src, s.id AS seq
            FROM settlements s LEFT JOIN cards c ON c.id = s.card_id WHERE s.terminal_id = @t AND s.created_at >= @from AND s.created_at < @to
          UNION ALL
          SELECT a.kind, CASE a.kind WHEN 'refund' THEN a.op_txn_id ELSE a.original_txn_id END, a.original_txn_id, a.approved,
                 COALESCE(a.decline_reason, ''), a.amount_minor, a.currency, COALESCE(c.pan_masked, ''), COALESCE(a.batch_id, 0), a.created_at, 1, a.id
            FROM adjustments a LEFT JOIN settlements s ON s.id = a.settlement_id LEFT JOIN cards c ON c.id = s.card_id
            WHERE a.terminal_id = @t AND a.created_at >= @from AND a.created_at < @to
        ) ORDER BY createdAt, src, seq LIMIT @limit`),
      balance: p('SELECT balance_minor AS s FROM accounts WHERE id = ?'),
      unreconciled:
        p(`SELECT a.id AS accountId, a.balance_minor AS balanceMinor, COALESCE(SUM(p.amount_minor), 0) AS postedMinor
                       FROM accounts a LEFT JOIN postings p ON p.account_id = a.id GROUP BY a.id HAVING balanceMinor != postedMinor`),
      ledgerSum: p('SELECT COALESCE(SUM(amount_minor), 0) AS s FROM postings'),
      ledgerSums: p('SELECT currency AS c, SUM(amount_minor) AS s FROM postings GROUP BY currency'),
    };
  }

  /** Group commits so far: how many, how many transactions they carried, the largest batch. */
  get commitStats(): CommitCounts {
    return { ...this.stats };
  }

  commit<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.committer.commit(() => fn(this.tx));
  }

  /** Runs fn between group commits, so it reads committed data only. */
  read<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.committer.exclusive(() => fn(this.tx));
  }

  /** Runs fn (synchronous, this adapter's own queries) in a transaction of its own, at once (tests, seeding). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  findTerminal(id: string): TerminalRow | undefined {
    return this.stmt.terminal.get(id) as TerminalRow | undefined;
  }

  findTerminalCertificate(fingerprint: string): TerminalCertificateRow | undefined {
    return this.stmt.terminalCertificate.get(fingerprint) as TerminalCertificateRow | undefined;
  }

  findMerchant(id: string): MerchantRow | undefined {
    return this.stmt.merchant.get(id) as MerchantRow | undefined;
  }

  findCardByPanHash(panHash: string): CardRow | undefined {
    const row = this.stmt.card.get(panHash) as
      (CardRow & { pinSalt: Buffer; pinVerifier: Buffer }) | undefined;
    return (
      row && { ...row, pinSalt: new Uint8Array(row.pinSalt), pinVerifier: new Uint8Array(row.pinVerifier) }
    );
  }

  findCardById(id: string): CardRow | undefined {
    const row = this.stmt.cardById.get(id) as
      (CardRow & { pinSalt: Buffer; pinVerifier: Buffer }) | undefined;
    return (
      row && { ...row, pinSalt: new Uint8Array(row.pinSalt), pinVerifier: new Uint8Array(row.pinVerifier) }
    );
  }

  salePostingsOf(settlementId: number): Posting[] {
    return this.stmt.salePostings.all(settlementId) as Posting[];
  }

  openBatch(terminalId: string, now: number): BatchRow {
    const open = this.findOpenBatch(terminalId);
    if (open) return open;
    const id = Number(this.stmt.insertBatch.run(terminalId, now).lastInsertRowid);
    return this.findBatch(id)!;
  }

  findOpenBatch(terminalId: string): BatchRow | undefined {
    return toBatch(this.stmt.openBatchOf.get(terminalId) as BatchDbRow | undefined);
  }

  findBatch(id: number): BatchRow | undefined {
    return toBatch(this.stmt.batch.get(id) as BatchDbRow | undefined);
  }

  findBatchByCloseRequest(terminalId: string, closeRequestId: string): BatchRow | undefined {
    return toBatch(this.stmt.batchByCloseRequest.get(terminalId, closeRequestId) as BatchDbRow | undefined);
  }

  computeBatchTotals(batchId: number): BatchTotalsRow {
    type Agg = BatchGroup;
    const groups = {
      sales: this.stmt.batchSales.all(batchId) as Agg[],
      refunds: this.stmt.batchAdjustments.all(batchId, 'refund') as Agg[],
      voids: this.stmt.batchAdjustments.all(batchId, 'void') as Agg[],
    };
    return batchTotalsOf(batchId, groups);
  }

  batchPostingSums(batchId: number, accountId: string): { account: number; all: number } {
    return this.stmt.batchPostings.get(accountId, batchId) as { account: number; all: number };
  }

  closeBatch(batchId: number, t: BatchTotalsRow, now: number, closeRequestId: string | null): void {
    const info = this.stmt.closeBatch.run(
      now,
      closeRequestId,
      t.currency,
      t.saleCount,
      t.saleMinor,
      t.refundCount,
      t.refundMinor,
      t.voidCount,
      t.voidMinor,
      t.netMinor,
      batchId,
    );
    if (info.changes !== 1) throw new Error(`batch ${batchId} is not open`);
  }

  findAdjustment(terminalId: string, kind: AdjustmentKind, opTxnId: string): AdjustmentRow | undefined {
    const row = this.stmt.adjustment.get(terminalId, kind, opTxnId) as
      | (Omit<AdjustmentRow, 'approved' | 'requestHash' | 'response'> & {
          approved: number;
          requestHash: Buffer;
          response: Buffer;
        })
      | undefined;
    return (
      row && {
        ...row,
        approved: row.approved === 1,
        requestHash: new Uint8Array(row.requestHash),
        response: new Uint8Array(row.response),
      }
    );
  }

  insertAdjustment(r: AdjustmentRow): number {
    const info = this.stmt.insertAdjustment.run(
      r.kind,
      r.terminalId,
      r.opTxnId,
      r.originalTxnId,
      r.settlementId,
      r.batchId,
      r.requestHash,
      r.approved ? 1 : 0,
      r.declineReason,
      r.amountMinor,
      r.currency,
      r.response,
      r.createdAt,
    );
    return Number(info.lastInsertRowid);
  }

  refundedMinor(settlementId: number): number {
    return (this.stmt.refunded.get(settlementId) as { s: number }).s;
  }

  listTransactions(terminalId: string, fromMs: number, toMs: number, limit: number): TransactionListRow[] {
    const rows = this.stmt.transactions.all({ t: terminalId, from: fromMs, to: toMs, limit }) as Array<
      Omit<TransactionListRow, 'approved'> & { approved: number }
    >;
    return rows.map((r) => ({ ...r, approved: r.approved === 1 }));
  }

  setPinTries(cardId: string, tries: number): void {
    this.stmt.setPinTries.run(tries, cardId);
  }

  setLastAtc(cardId: string, atc: number): void {
    this.stmt.setLastAtc.run(atc, cardId);
  }

  useAtc(cardId: string, atc: number): boolean {
    if (this.stmt.useAtc.run({ card: cardId, atc }).changes !== 1) return false;
    this.stmt.raiseLastAtc.run({ card: cardId, atc });
    return true;
  }

  atcUsed(cardId: string, atc: number): boolean {
    const row = this.stmt.atcUsed.get({ card: cardId, atc }) as { used: number } | undefined;
    return row ? row.used === 1 : false;
  }

  insertChallenge(un: string, terminalId: string, expiresAt: number): boolean {
    return this.stmt.insertChallenge.run(un, terminalId, expiresAt).changes === 1;
  }

  takeChallenge(un: string, terminalId: string, now: number): ChallengeState {
    // One statement for a good challenge; why it was refused is read only when it was.
    if (this.stmt.useChallenge.run(now, un, terminalId, now).changes === 1) return 'ok';
    const row = this.stmt.challenge.get(un, terminalId) as
      { expiresAt: number; usedAt: number | null } | undefined;
    if (!row) return 'unknown';
    if (row.usedAt !== null) return 'used';
    return 'expired';
  }

  /** Drops challenges that expired before `before`. */
  purgeChallenges(before: number): void {
    this.stmt.purgeChallenges.run(before);
  }

  boundChallenges(terminalId: string, now: number, keep: number): number {
    return this.stmt.boundChallenges.run({ t: terminalId, now, keep: Math.max(0, keep) }).changes;
  }

  insertAuthorization(row: AuthorizationRow): void {
    this.stmt.insertAuthorization.run(row.ref, row.cardId, row.terminalId, row.un, row.expiresAt, row.cvm);
  }

  findAuthorization(ref: string): AuthorizationRow | undefined {
    const row = this.stmt.authorization.get(ref) as
      (Omit<AuthorizationRow, 'settled'> & { settled: number }) | undefined;
    return row && { ...row, settled: row.settled === 1 };
  }

  markAuthorizationSettled(ref: string): void {
    this.stmt.settleAuthorization.run(ref);
  }

  findSettlement(terminalId: string, terminalTxnId: string): SettlementRow | undefined {
    const row = this.stmt.settlement.get(terminalId, terminalTxnId) as
      | (Omit<SettlementRow, 'approved' | 'requestHash' | 'response'> & {
          approved: number;
          requestHash: Buffer;
          response: Buffer;
        })
      | undefined;
    return (
      row && {
        ...row,
        approved: row.approved === 1,
        declineReason: row.declineReason as DeclineCode | null,
        requestHash: new Uint8Array(row.requestHash),
        response: new Uint8Array(row.response),
      }
    );
  }

  insertSettlement(r: SettlementRow): number {
    const info = this.stmt.insertSettlement.run(
      r.terminalId,
      r.terminalTxnId,
      r.requestHash,
      r.approved ? 1 : 0,
      r.declineReason,
      r.amountMinor,
      r.currency,
      r.cardId,
      r.merchantId,
      r.response,
      r.createdAt,
      r.batchId,
    );
    return Number(info.lastInsertRowid);
  }

  insertPostings(
    settlementId: number,
    postings: readonly Posting[],
    at: number,
    link: { batchId: number; adjustmentId: number | null },
  ): void {
    const sums = new Map<string, number>();
    for (const p of postings) sums.set(p.currency, (sums.get(p.currency) ?? 0) + p.amountMinor);
    if ([...sums.values()].some((s) => s !== 0))
      throw new Error('unbalanced postings (each currency must sum to zero)');
    for (const p of postings)
      this.stmt.insertPosting.run(
        settlementId,
        p.accountId,
        p.amountMinor,
        p.currency,
        at,
        link.batchId,
        link.adjustmentId,
      );
  }

  /** The account's running balance (the sum of its postings, kept by a trigger); 0 for an unknown account. */
  accountBalance(accountId: string): number {
    return (this.stmt.balance.get(accountId) as { s: number } | undefined)?.s ?? 0;
  }

  /** Accounts whose running balance is not the sum of their postings: none, unless the ledger was tampered with. */
  reconcileBalances(): Array<{ accountId: string; balanceMinor: number; postedMinor: number }> {
    return this.stmt.unreconciled.all() as Array<{
      accountId: string;
      balanceMinor: number;
      postedMinor: number;
    }>;
  }

  ledgerSum(): number {
    return (this.stmt.ledgerSum.get() as { s: number }).s;
  }

  ledgerSumsByCurrency(): Record<string, number> {
    return Object.fromEntries(
      (this.stmt.ledgerSums.all() as Array<{ c: string; s: number }>).map((r) => [r.c, r.s]),
    );
  }

  close(): void {
    this.committer.close();
    this.db.close();
  }
}

/** The port's transaction handle over the store's synchronous queries: each promise settles at once (a throw becomes a rejection). */
function sqliteTx(s: SqliteBackendStore, shopper: SqliteShopperStore): StoreTx {
  return {
    insertShopperChallenge: async (un, expiresAt) => shopper.insertShopperChallenge(un, expiresAt),
    takeShopperChallenge: async (un, now) => shopper.takeShopperChallenge(un, now),
    peekShopperChallenge: async (un, now) => shopper.peekShopperChallenge(un, now),
    purgeShopperChallenges: async (before) => shopper.purgeShopperChallenges(before),
    insertCode: async (row) => shopper.insertCode(row),
    findCodes: async (codeHash) => shopper.findCodes(codeHash),
    markCodeUsed: async (id, settlementId, now) => shopper.markCodeUsed(id, settlementId, now),
    recordWrongCode: async (merchantId, terminalId, at) =>
      shopper.recordWrongCode(merchantId, terminalId, at),
    countWrongCodes: async (merchantId, terminalId, since) =>
      shopper.countWrongCodes(merchantId, terminalId, since),
    findMerchantCardByPanHash: async (panHash) => shopper.findMerchantCardByPanHash(panHash),
    listMerchantTransactions: async (merchantId, fromMs, toMs, limit) =>
      shopper.listMerchantTransactions(merchantId, fromMs, toMs, limit),
    findCardByPanHash: async (panHash) => s.findCardByPanHash(panHash),
    findCardById: async (id) => s.findCardById(id),
    setPinTries: async (cardId, tries) => s.setPinTries(cardId, tries),
    setLastAtc: async (cardId, atc) => s.setLastAtc(cardId, atc),
    useAtc: async (cardId, atc) => s.useAtc(cardId, atc),
    atcUsed: async (cardId, atc) => s.atcUsed(cardId, atc),
    findTerminal: async (id) => s.findTerminal(id),
    findTerminalCertificate: async (fingerprint) => s.findTerminalCertificate(fingerprint),
    findMerchant: async (id) => s.findMerchant(id),
    insertChallenge: async (un, terminalId, expiresAt) => s.insertChallenge(un, terminalId, expiresAt),
    purgeChallenges: async (before) => s.purgeChallenges(before),
    boundChallenges: async (terminalId, now, keep) => s.boundChallenges(terminalId, now, keep),
    takeChallenge: async (un, terminalId, now) => s.takeChallenge(un, terminalId, now),
    insertAuthorization: async (row) => s.insertAuthorization(row),
    findAuthorization: async (ref) => s.findAuthorization(ref),
    markAuthorizationSettled: async (ref) => s.markAuthorizationSettled(ref),
    findSettlement: async (terminalId, terminalTxnId) => s.findSettlement(terminalId, terminalTxnId),
    insertSettlement: async (row) => s.insertSettlement(row),
    insertPostings: async (settlementId, postings, at, link) =>
      s.insertPostings(settlementId, postings, at, link),
    salePostingsOf: async (settlementId) => s.salePostingsOf(settlementId),
    accountBalance: async (accountId) => s.accountBalance(accountId),
    ledgerSum: async () => s.ledgerSum(),
    ledgerSumsByCurrency: async () => s.ledgerSumsByCurrency(),
    openBatch: async (terminalId, now) => s.openBatch(terminalId, now),
    findOpenBatch: async (terminalId) => s.findOpenBatch(terminalId),
    findBatch: async (id) => s.findBatch(id),
    findBatchByCloseRequest: async (terminalId, closeRequestId) =>
      s.findBatchByCloseRequest(terminalId, closeRequestId),
    computeBatchTotals: async (batchId) => s.computeBatchTotals(batchId),
    batchPostingSums: async (batchId, accountId) => s.batchPostingSums(batchId, accountId),
    closeBatch: async (batchId, totals, now, closeRequestId) =>
      s.closeBatch(batchId, totals, now, closeRequestId),
    findAdjustment: async (terminalId, kind, opTxnId) => s.findAdjustment(terminalId, kind, opTxnId),
    insertAdjustment: async (row) => s.insertAdjustment(row),
    refundedMinor: async (settlementId) => s.refundedMinor(settlementId),
    listTransactions: async (terminalId, fromMs, toMs, limit) =>
      s.listTransactions(terminalId, fromMs, toMs, limit),
  };
}
