import type { DeclineCode } from '@bluetill/protocol';
import type {
  AuthorizationRow, BackendStore, CardRow, ChallengeState, MerchantRow, Posting, SettlementRow, TerminalCertificateRow, TerminalRow,
} from '../../ports/backend-store';
import { openDatabase, type Db } from './open-database';

/** BackendStore on one SQLite file (better-sqlite3, synchronous transactions only). */
export class SqliteBackendStore implements BackendStore {
  readonly db: Db;
  private readonly stmt;

  constructor(path: string) {
    this.db = openDatabase(path);
    const p = (sql: string) => this.db.prepare(sql);
    this.stmt = {
      terminal: p('SELECT id, merchant_id AS merchantId, status FROM terminals WHERE id = ?'),
      terminalCertificate: p(`SELECT fingerprint, terminal_id AS terminalId, serial, not_after AS notAfter, issued_at AS issuedAt,
                                revoked_at AS revokedAt FROM terminal_certificates WHERE fingerprint = ?`),
      merchant: p('SELECT id, name, status, account_id AS accountId FROM merchants WHERE id = ?'),
      card: p(`SELECT id, pan_hash AS panHash, pan_masked AS panMasked, pan_sequence AS panSequence, expiry,
                 cardholder_name AS cardholderName, status, pin_salt AS pinSalt, pin_verifier AS pinVerifier,
                 pin_tries AS pinTries, credit_limit_minor AS creditLimitMinor, currency, account_id AS accountId,
                 last_atc AS lastAtc FROM cards WHERE pan_hash = ?`),
      setPinTries: p('UPDATE cards SET pin_tries = ? WHERE id = ?'),
      setLastAtc: p('UPDATE cards SET last_atc = ? WHERE id = ?'),
      insertChallenge: p('INSERT INTO challenges (un, terminal_id, expires_at) VALUES (?, ?, ?)'),
      challenge: p('SELECT expires_at AS expiresAt, used_at AS usedAt FROM challenges WHERE un = ? AND terminal_id = ?'),
      useChallenge: p('UPDATE challenges SET used_at = ? WHERE un = ? AND terminal_id = ?'),
      purgeChallenges: p('DELETE FROM challenges WHERE expires_at < ?'),
      insertAuthorization: p('INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at) VALUES (?, ?, ?, ?, ?)'),
      authorization: p('SELECT ref, card_id AS cardId, terminal_id AS terminalId, un, expires_at AS expiresAt, settled FROM authorizations WHERE ref = ?'),
      settleAuthorization: p('UPDATE authorizations SET settled = 1 WHERE ref = ?'),
      settlement: p(`SELECT id, terminal_id AS terminalId, terminal_txn_id AS terminalTxnId, request_hash AS requestHash, approved,
                       decline_reason AS declineReason, amount_minor AS amountMinor, currency, card_id AS cardId,
                       merchant_id AS merchantId, response, created_at AS createdAt
                     FROM settlements WHERE terminal_id = ? AND terminal_txn_id = ?`),
      insertSettlement: p(`INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor,
                             currency, card_id, merchant_id, response, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertPosting: p('INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (?, ?, ?, ?, ?)'),
      balance: p('SELECT COALESCE(SUM(amount_minor), 0) AS s FROM postings WHERE account_id = ?'),
      ledgerSum: p('SELECT COALESCE(SUM(amount_minor), 0) AS s FROM postings'),
    };
  }

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
    const row = this.stmt.card.get(panHash) as (CardRow & { pinSalt: Buffer; pinVerifier: Buffer }) | undefined;
    return row && { ...row, pinSalt: new Uint8Array(row.pinSalt), pinVerifier: new Uint8Array(row.pinVerifier) };
  }

  setPinTries(cardId: string, tries: number): void {
    this.stmt.setPinTries.run(tries, cardId);
  }

  setLastAtc(cardId: string, atc: number): void {
    this.stmt.setLastAtc.run(atc, cardId);
  }

  insertChallenge(un: string, terminalId: string, expiresAt: number): void {
    this.stmt.insertChallenge.run(un, terminalId, expiresAt);
  }

  takeChallenge(un: string, terminalId: string, now: number): ChallengeState {
    const row = this.stmt.challenge.get(un, terminalId) as { expiresAt: number; usedAt: number | null } | undefined;
    if (!row) return 'unknown';
    if (row.usedAt !== null) return 'used';
    if (row.expiresAt < now) return 'expired';
    this.stmt.useChallenge.run(now, un, terminalId);
    return 'ok';
  }

  /** Drops challenges that expired long ago (used ones stay until then, so reuse is still seen). */
  purgeChallenges(before: number): void {
    this.stmt.purgeChallenges.run(before);
  }

  insertAuthorization(row: AuthorizationRow): void {
    this.stmt.insertAuthorization.run(row.ref, row.cardId, row.terminalId, row.un, row.expiresAt);
  }

  findAuthorization(ref: string): AuthorizationRow | undefined {
    const row = this.stmt.authorization.get(ref) as (Omit<AuthorizationRow, 'settled'> & { settled: number }) | undefined;
    return row && { ...row, settled: row.settled === 1 };
  }

  markAuthorizationSettled(ref: string): void {
    this.stmt.settleAuthorization.run(ref);
  }

  findSettlement(terminalId: string, terminalTxnId: string): SettlementRow | undefined {
    const row = this.stmt.settlement.get(terminalId, terminalTxnId) as
      | (Omit<SettlementRow, 'approved' | 'requestHash' | 'response'> & { approved: number; requestHash: Buffer; response: Buffer })
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
      r.terminalId, r.terminalTxnId, r.requestHash, r.approved ? 1 : 0, r.declineReason, r.amountMinor, r.currency,
      r.cardId, r.merchantId, r.response, r.createdAt,
    );
    return Number(info.lastInsertRowid);
  }

  insertPostings(settlementId: number, postings: readonly Posting[], at: number): void {
    for (const p of postings) this.stmt.insertPosting.run(settlementId, p.accountId, p.amountMinor, p.currency, at);
  }

  accountBalance(accountId: string): number {
    return (this.stmt.balance.get(accountId) as { s: number }).s;
  }

  ledgerSum(): number {
    return (this.stmt.ledgerSum.get() as { s: number }).s;
  }

  close(): void {
    this.db.close();
  }
}
