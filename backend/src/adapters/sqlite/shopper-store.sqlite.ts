import type { ChallengeState, TransactionListRow } from '../../ports/backend-store';
import type { MerchantCardRow, TemporaryCodeRow } from '../../ports/shopper-store';
import type { Db } from './open-database';

/**
 * The ShopperStore queries on the backend's SQLite file, synchronous (better-sqlite3), on the same
 * connection as SqliteBackendStore: its transaction handle wraps them, so one transaction covers
 * both. Public for what runs on this adapter alone (the admin tool's listing).
 */
export class SqliteShopperStore {
  private readonly stmt;

  constructor(db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      insertChallenge: p('INSERT OR IGNORE INTO shopper_challenges (un, expires_at) VALUES (?, ?)'),
      challenge: p('SELECT expires_at AS expiresAt, used_at AS usedAt FROM shopper_challenges WHERE un = ?'),
      useChallenge: p('UPDATE shopper_challenges SET used_at = ? WHERE un = ?'),
      purgeChallenges: p('DELETE FROM shopper_challenges WHERE expires_at < ?'),
      insertCode: p(
        'INSERT INTO temporary_codes (code_hash, card_id, limit_minor, currency, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      codes:
        p(`SELECT id, code_hash AS codeHash, card_id AS cardId, limit_minor AS limitMinor, currency, created_at AS createdAt,
                  expires_at AS expiresAt, used_at AS usedAt FROM temporary_codes WHERE code_hash = ? ORDER BY id DESC LIMIT 16`),
      useCode: p(
        'UPDATE temporary_codes SET used_at = ?, settlement_id = ? WHERE id = ? AND used_at IS NULL',
      ),
      wrongCode: p('INSERT INTO code_attempts (merchant_id, terminal_id, at) VALUES (?, ?, ?)'),
      countWrong: p(
        'SELECT COUNT(*) AS merchant, COALESCE(SUM(terminal_id = ?), 0) AS terminal FROM code_attempts WHERE merchant_id = ? AND at >= ?',
      ),
      merchantCard:
        p(`SELECT id, pan_hash AS panHash, pan_masked AS panMasked, pan_sequence AS panSequence, expiry, merchant_id AS merchantId,
                         terminal_id AS terminalId, status FROM merchant_cards WHERE pan_hash = ?`),
      merchantTransactions:
        p(`SELECT kind, terminalId, terminalTxnId, originalTxnId, approved, declineReason, amountMinor, currency, maskedPan, batchId, createdAt FROM (
          SELECT 'sale' AS kind, s.terminal_id AS terminalId, s.terminal_txn_id AS terminalTxnId, '' AS originalTxnId, s.approved,
                 COALESCE(s.decline_reason, '') AS declineReason, s.amount_minor AS amountMinor, s.currency, COALESCE(c.pan_masked, '') AS maskedPan,
                 COALESCE(s.batch_id, 0) AS batchId, s.created_at AS createdAt, 0 AS src, s.id AS seq
            FROM settlements s LEFT JOIN cards c ON c.id = s.card_id WHERE s.merchant_id = @m AND s.created_at >= @from AND s.created_at < @to
          UNION ALL
          SELECT a.kind, a.terminal_id, CASE a.kind WHEN 'refund' THEN a.op_txn_id ELSE a.original_txn_id END, a.original_txn_id, a.approved,
                 COALESCE(a.decline_reason, ''), a.amount_minor, a.currency, COALESCE(c.pan_masked, ''), COALESCE(a.batch_id, 0), a.created_at, 1, a.id
            FROM adjustments a JOIN settlements s ON s.id = a.settlement_id LEFT JOIN cards c ON c.id = s.card_id
            WHERE s.merchant_id = @m AND a.created_at >= @from AND a.created_at < @to
        ) ORDER BY createdAt, src, seq LIMIT @limit`),
    };
  }

  insertShopperChallenge(un: string, expiresAt: number): boolean {
    return this.stmt.insertChallenge.run(un, expiresAt).changes === 1;
  }

  takeShopperChallenge(un: string, now: number): ChallengeState {
    const state = this.peekShopperChallenge(un, now);
    if (state === 'ok') this.stmt.useChallenge.run(now, un);
    return state;
  }

  peekShopperChallenge(un: string, now: number): ChallengeState {
    const row = this.stmt.challenge.get(un) as { expiresAt: number; usedAt: number | null } | undefined;
    if (!row) return 'unknown';
    if (row.usedAt !== null) return 'used';
    if (row.expiresAt < now) return 'expired';
    return 'ok';
  }

  purgeShopperChallenges(before: number): void {
    this.stmt.purgeChallenges.run(before);
  }

  insertCode(r: Omit<TemporaryCodeRow, 'id' | 'usedAt'>): number {
    return Number(
      this.stmt.insertCode.run(r.codeHash, r.cardId, r.limitMinor, r.currency, r.createdAt, r.expiresAt)
        .lastInsertRowid,
    );
  }

  findCodes(codeHash: string): TemporaryCodeRow[] {
    return this.stmt.codes.all(codeHash) as TemporaryCodeRow[];
  }

  markCodeUsed(id: number, settlementId: number, now: number): void {
    if (this.stmt.useCode.run(now, settlementId, id).changes !== 1)
      throw new Error('temporary code already used');
  }

  recordWrongCode(merchantId: string, terminalId: string, at: number): void {
    this.stmt.wrongCode.run(merchantId, terminalId, at);
  }

  countWrongCodes(
    merchantId: string,
    terminalId: string,
    since: number,
  ): { merchant: number; terminal: number } {
    return this.stmt.countWrong.get(terminalId, merchantId, since) as { merchant: number; terminal: number };
  }

  findMerchantCardByPanHash(panHash: string): MerchantCardRow | undefined {
    return this.stmt.merchantCard.get(panHash) as MerchantCardRow | undefined;
  }

  listMerchantTransactions(
    merchantId: string,
    fromMs: number,
    toMs: number,
    limit: number,
  ): Array<TransactionListRow & { terminalId: string }> {
    const rows = this.stmt.merchantTransactions.all({
      m: merchantId,
      from: fromMs,
      to: toMs,
      limit,
    }) as Array<Omit<TransactionListRow, 'approved'> & { terminalId: string; approved: number }>;
    return rows.map((r) => ({ ...r, approved: r.approved === 1 }));
  }
}
