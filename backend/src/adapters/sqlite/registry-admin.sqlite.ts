/**
 * RegistryAdmin on the SQLite file: each write checks its input (the port's rules), then runs in
 * one better-sqlite3 transaction (BEGIN IMMEDIATE), so what it refuses leaves nothing behind.
 * Over a database it opens itself (`open`) or one a BackendStore holds (`new`, not closed by it).
 */
import { SqliteError } from 'better-sqlite3';
import type { CardStatus } from '../../ports/backend-store';
import { effectiveOfflineLimits, type OfflineLimitSettings } from '../../domain/offline-limits';
import {
  accountIdOf,
  checkCardRecord,
  checkCardStatus,
  checkId,
  checkMerchantCardRecord,
  checkMerchantCardStatus,
  checkNewMerchant,
  checkNewTerminal,
  checkTerminalCertificate,
  merchantCardTerminalId,
  RegistryError,
  OFFLINE_LIMIT_COLUMNS,
  checkOfflineLimits,
  checkReportPeriod,
  type OfflineLimitsTarget,
  type OfflineLimitsView,
  type OfflineLoss,
  type OfflineReport,
  type OfflineReportTotals,
  type CardRecord,
  type CardSummary,
  type MerchantCardRecord,
  type MerchantCardStatus,
  type MerchantSummary,
  type NewMerchant,
  type NewTerminal,
  type RegisteredCard,
  type RegistryAdmin,
  type RegistryCounts,
  type TerminalCertificateRecord,
  type TerminalSummary,
  type WithinTransaction,
} from '../../ports/registry-admin';
import { openDatabase, type Db } from './open-database';

const MERCHANT_SQL = `SELECT m.id, m.name, m.status, a.currency,
  (SELECT count(*) FROM terminals t WHERE t.merchant_id = m.id) AS terminals
  FROM merchants m JOIN accounts a ON a.id = m.account_id`;
const TERMINAL_SQL = `SELECT t.id, t.merchant_id AS merchantId, t.status,
  (SELECT count(*) FROM terminal_certificates c WHERE c.terminal_id = t.id AND c.revoked_at IS NULL) AS certificates
  FROM terminals t`;
const CARD_SQL = `SELECT c.id, c.pan_masked AS panMasked, c.expiry, c.cardholder_name AS cardholderName, c.status,
  c.pin_tries AS pinTries, c.credit_limit_minor AS creditLimitMinor, c.currency,
  COALESCE(a.balance_minor, 0) AS balanceMinor, c.last_atc AS lastAtc
  FROM cards c LEFT JOIN accounts a ON a.id = c.account_id`;

/** A unique or primary key the database refused: someone registered it between our check and our insert. */
const duplicateOf = (e: unknown, what: string): unknown =>
  e instanceof SqliteError && /^SQLITE_CONSTRAINT_(UNIQUE|PRIMARYKEY)$/.test(e.code)
    ? new RegistryError('duplicate', `${what} is registered already`, { cause: e })
    : e;

export class SqliteRegistryAdmin implements RegistryAdmin {
  /** Opens (and migrates) the SQLite file at `path`; close() closes it. */
  static open(path: string): SqliteRegistryAdmin {
    return new SqliteRegistryAdmin(openDatabase(path), { owned: true });
  }

  private readonly owned: boolean;

  constructor(
    private readonly db: Db,
    o: { owned?: boolean } = {},
  ) {
    this.owned = o.owned ?? false;
  }

  /** fn, then `within`, in one IMMEDIATE transaction (`within` must be synchronous on SQLite). */
  private write<T>(fn: () => T, within?: WithinTransaction): T {
    const run = this.db.transaction(() => {
      const result = fn();
      if (within) {
        const r = within();
        if (r instanceof Promise)
          throw new TypeError(
            'SqliteRegistryAdmin: the function run within the transaction must be synchronous',
          );
      }
      return result;
    });
    return run.immediate();
  }

  private one<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.db.prepare(sql).get(...params) as T | undefined;
  }

  private cardTaken(id: string, panHash: string): boolean {
    return (
      this.one(
        'SELECT 1 AS x FROM cards WHERE id = ? OR pan_hash = ? UNION ALL SELECT 1 FROM merchant_cards WHERE id = ? OR pan_hash = ?',
        id,
        panHash,
        id,
        panHash,
      ) !== undefined
    );
  }

  addMerchant(m: NewMerchant): Promise<void> {
    return this.run(() => {
      checkNewMerchant(m);
      const account = accountIdOf(m.id);
      this.write(() => {
        if (this.one('SELECT 1 AS x FROM merchants WHERE id = ?', m.id))
          throw new RegistryError('duplicate', `merchant ${m.id} is registered already`);
        if (this.one('SELECT 1 AS x FROM accounts WHERE id = ?', account))
          throw new RegistryError('duplicate', `account ${account} exists already`);
        try {
          this.db
            .prepare("INSERT INTO accounts (id, kind, currency) VALUES (?, 'merchant', ?)")
            .run(account, m.currency);
          this.db
            .prepare('INSERT INTO merchants (id, name, status, account_id) VALUES (?, ?, ?, ?)')
            .run(m.id, m.name, m.status ?? 'active', account);
        } catch (e) {
          throw duplicateOf(e, `merchant ${m.id}`);
        }
      });
    });
  }

  /** The terminal row; `forCard`: a merchant card's own, allowed for an inactive merchant (its card stays refused at payment). */
  private insertTerminal(t: NewTerminal, o: { forCard?: boolean } = {}): void {
    const merchant = this.one<{ status: string }>('SELECT status FROM merchants WHERE id = ?', t.merchantId);
    if (!merchant) throw new RegistryError('not_found', `no merchant ${t.merchantId}`);
    if (merchant.status !== 'active' && !o.forCard)
      throw new RegistryError('state', `merchant ${t.merchantId} is ${merchant.status}`);
    if (this.one('SELECT 1 AS x FROM terminals WHERE id = ?', t.id))
      throw new RegistryError('duplicate', `terminal ${t.id} is registered already`);
    try {
      this.db
        .prepare("INSERT INTO terminals (id, merchant_id, status) VALUES (?, ?, 'active')")
        .run(t.id, t.merchantId);
    } catch (e) {
      throw duplicateOf(e, `terminal ${t.id}`);
    }
  }

  addTerminal(t: NewTerminal): Promise<void> {
    return this.run(() => {
      checkNewTerminal(t);
      this.write(() => this.insertTerminal(t));
    });
  }

  addCard(c: CardRecord, within?: WithinTransaction): Promise<void> {
    return this.run(() => {
      checkCardRecord(c);
      const account = accountIdOf(c.id);
      this.write(() => {
        if (this.cardTaken(c.id, c.panHash))
          throw new RegistryError(
            'duplicate',
            `card ${c.id} or card number ${c.panMasked} is registered already`,
          );
        if (this.one('SELECT 1 AS x FROM accounts WHERE id = ?', account))
          throw new RegistryError('duplicate', `account ${account} exists already`);
        try {
          this.db
            .prepare("INSERT INTO accounts (id, kind, currency) VALUES (?, 'cardholder', ?)")
            .run(account, c.currency);
          this.db
            .prepare(
              `INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, pan_sequence, expiry, cardholder_name, status, pin_salt, pin_verifier,
                                  credit_limit_minor, currency, account_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              c.id,
              c.panHash,
              Buffer.from(c.panEnc),
              c.panMasked,
              c.panSequence,
              c.expiry,
              c.cardholderName,
              c.status,
              Buffer.from(c.pinSalt),
              Buffer.from(c.pinVerifier),
              c.creditLimitMinor,
              c.currency,
              account,
            );
        } catch (e) {
          throw duplicateOf(e, `card ${c.id} or card number ${c.panMasked}`);
        }
      }, within);
    });
  }

  addMerchantCard(c: MerchantCardRecord, within?: WithinTransaction): Promise<void> {
    return this.run(() => {
      checkMerchantCardRecord(c);
      const terminalId = merchantCardTerminalId(c.id);
      this.write(() => {
        if (this.cardTaken(c.id, c.panHash))
          throw new RegistryError(
            'duplicate',
            `card ${c.id} or card number ${c.panMasked} is registered already`,
          );
        this.insertTerminal({ id: terminalId, merchantId: c.merchantId }, { forCard: true });
        try {
          this.db
            .prepare(
              `INSERT INTO merchant_cards (id, pan_hash, pan_masked, pan_sequence, expiry, merchant_id, terminal_id, status, issued_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              c.id,
              c.panHash,
              c.panMasked,
              c.panSequence,
              c.expiry,
              c.merchantId,
              terminalId,
              c.status,
              c.issuedAt,
            );
        } catch (e) {
          throw duplicateOf(e, `card ${c.id} or card number ${c.panMasked}`);
        }
      }, within);
    });
  }

  setCardStatus(cardId: string, status: CardStatus): Promise<CardStatus> {
    return this.run(() => {
      checkCardStatus(status);
      return this.write(() => {
        const card = this.one<{ status: CardStatus }>('SELECT status FROM cards WHERE id = ?', cardId);
        if (!card) throw new RegistryError('not_found', `no card ${cardId}`);
        if (card.status === status) throw new RegistryError('state', `card ${cardId} is ${status} already`);
        this.db.prepare('UPDATE cards SET status = ? WHERE id = ?').run(status, cardId);
        return card.status;
      });
    });
  }

  setMerchantCardStatus(cardId: string, status: MerchantCardStatus): Promise<MerchantCardStatus> {
    return this.run(() => {
      checkMerchantCardStatus(status);
      return this.write(() => {
        const card = this.one<{ status: MerchantCardStatus }>(
          'SELECT status FROM merchant_cards WHERE id = ?',
          cardId,
        );
        if (!card) throw new RegistryError('not_found', `no merchant card ${cardId}`);
        if (card.status === status) throw new RegistryError('state', `card ${cardId} is ${status} already`);
        this.db.prepare('UPDATE merchant_cards SET status = ? WHERE id = ?').run(status, cardId);
        return card.status;
      });
    });
  }

  resetPinTries(cardId: string): Promise<number> {
    return this.run(() =>
      this.write(() => {
        const card = this.one<{ pinTries: number }>(
          'SELECT pin_tries AS pinTries FROM cards WHERE id = ?',
          cardId,
        );
        if (!card) throw new RegistryError('not_found', `no card ${cardId}`);
        if (card.pinTries === 0)
          throw new RegistryError('state', `card ${cardId} has no wrong PIN tries to reset`);
        this.db.prepare('UPDATE cards SET pin_tries = 0 WHERE id = ?').run(cardId);
        return card.pinTries;
      }),
    );
  }

  recordTerminalCertificate(
    c: TerminalCertificateRecord,
    o: { readonly replace?: boolean } = {},
  ): Promise<{ readonly revoked: number }> {
    return this.run(() => {
      checkTerminalCertificate(c);
      return this.write(() => {
        if (!this.one('SELECT 1 AS x FROM terminals WHERE id = ?', c.terminalId))
          throw new RegistryError('not_found', `no terminal ${c.terminalId}`);
        if (this.one('SELECT 1 AS x FROM terminal_certificates WHERE fingerprint = ?', c.fingerprint))
          throw new RegistryError('duplicate', `certificate ${c.serial} is recorded already`);
        const revoked = o.replace
          ? this.db
              .prepare(
                'UPDATE terminal_certificates SET revoked_at = ? WHERE terminal_id = ? AND revoked_at IS NULL',
              )
              .run(c.issuedAt, c.terminalId).changes
          : 0;
        try {
          this.db
            .prepare(
              'INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at) VALUES (?, ?, ?, ?, ?)',
            )
            .run(c.fingerprint, c.terminalId, c.serial, c.notAfter, c.issuedAt);
        } catch (e) {
          throw duplicateOf(e, `certificate ${c.serial}`);
        }
        return { revoked };
      });
    });
  }

  revokeTerminalCertificates(
    terminalId: string,
    o: { readonly serial?: string; readonly now?: number } = {},
  ): Promise<number> {
    return this.run(() => {
      checkId('terminal', terminalId);
      const now = o.now ?? Date.now();
      return this.write(() =>
        o.serial === undefined
          ? this.db
              .prepare(
                'UPDATE terminal_certificates SET revoked_at = ? WHERE terminal_id = ? AND revoked_at IS NULL',
              )
              .run(now, terminalId).changes
          : this.db
              .prepare(
                'UPDATE terminal_certificates SET revoked_at = ? WHERE terminal_id = ? AND upper(serial) = upper(?) AND revoked_at IS NULL',
              )
              .run(now, terminalId, o.serial).changes,
      );
    });
  }

  findMerchant(id: string): Promise<MerchantSummary | undefined> {
    return this.run(() => this.one<MerchantSummary>(`${MERCHANT_SQL} WHERE m.id = ?`, id));
  }

  findTerminal(id: string): Promise<TerminalSummary | undefined> {
    return this.run(() => this.one<TerminalSummary>(`${TERMINAL_SQL} WHERE t.id = ?`, id));
  }

  findCard(id: string): Promise<RegisteredCard | undefined> {
    return this.run(() => {
      const payment = this.one<{ status: CardStatus; pinTries: number }>(
        'SELECT status, pin_tries AS pinTries FROM cards WHERE id = ?',
        id,
      );
      if (payment) return { kind: 'payment' as const, id, ...payment };
      const merchant = this.one<{ status: MerchantCardStatus; merchantId: string; terminalId: string }>(
        'SELECT status, merchant_id AS merchantId, terminal_id AS terminalId FROM merchant_cards WHERE id = ?',
        id,
      );
      return merchant && { kind: 'merchant' as const, id, ...merchant };
    });
  }

  listMerchants(): Promise<MerchantSummary[]> {
    return this.run(() => this.db.prepare(`${MERCHANT_SQL} ORDER BY m.id`).all() as MerchantSummary[]);
  }

  listTerminals(o: { readonly merchantId?: string } = {}): Promise<TerminalSummary[]> {
    return this.run(
      () =>
        (o.merchantId === undefined
          ? this.db.prepare(`${TERMINAL_SQL} ORDER BY t.id`).all()
          : this.db
              .prepare(`${TERMINAL_SQL} WHERE t.merchant_id = ? ORDER BY t.id`)
              .all(o.merchantId)) as TerminalSummary[],
    );
  }

  listCards(o: { readonly status?: CardStatus } = {}): Promise<CardSummary[]> {
    return this.run(() => {
      if (o.status !== undefined) checkCardStatus(o.status);
      return (
        o.status === undefined
          ? this.db.prepare(`${CARD_SQL} ORDER BY c.id`).all()
          : this.db.prepare(`${CARD_SQL} WHERE c.status = ? ORDER BY c.id`).all(o.status)
      ) as CardSummary[];
    });
  }

  showCard(id: string): Promise<CardSummary | undefined> {
    return this.run(() => this.one<CardSummary>(`${CARD_SQL} WHERE c.id = ?`, id));
  }

  counts(): Promise<RegistryCounts> {
    return this.run(() =>
      this.one<RegistryCounts>(
        `SELECT (SELECT count(*) FROM merchants) AS merchants, (SELECT count(*) FROM terminals) AS terminals,
                  (SELECT count(*) FROM cards) AS cards, (SELECT count(*) FROM merchant_cards) AS merchantCards`,
      )!,
    );
  }

  setOfflineLimits(
    target: OfflineLimitsTarget,
    settings: Partial<OfflineLimitSettings>,
  ): Promise<OfflineLimitsView> {
    return this.run(() => {
      checkOfflineLimits(target, settings);
      return this.write(() => {
        const { table, id } = this.offlineTarget(target);
        const set = (Object.keys(OFFLINE_LIMIT_COLUMNS) as (keyof OfflineLimitSettings)[]).filter(
          (k) => settings[k] !== undefined,
        );
        this.db
          .prepare(
            `UPDATE ${table} SET ${set.map((k) => `${OFFLINE_LIMIT_COLUMNS[k]} = ?`).join(', ')} WHERE id = ?`,
          )
          .run(...set.map((k) => settings[k]), id);
        return this.offlineView(target);
      });
    });
  }

  offlineLimits(target: OfflineLimitsTarget): Promise<OfflineLimitsView> {
    return this.run(() => {
      this.offlineTarget(target);
      return this.offlineView(target);
    });
  }

  offlineReport(o: { fromMs: number; toMs: number; merchantId?: string }): Promise<OfflineReport> {
    return this.run(() => {
      checkReportPeriod(o);
      if (o.merchantId !== undefined && !this.one('SELECT 1 AS x FROM merchants WHERE id = ?', o.merchantId))
        throw new RegistryError('not_found', `no merchant ${o.merchantId}`);
      const params = { from: o.fromMs, to: o.toMs, m: o.merchantId ?? null };
      const where = `FROM offline_sales o JOIN terminals t ON t.id = o.terminal_id
        WHERE o.forwarded_at >= @from AND o.forwarded_at < @to AND (@m IS NULL OR t.merchant_id = @m)`;
      const totals = this.db
        .prepare(
          `SELECT t.merchant_id AS merchantId, o.currency,
             sum(o.outcome = 'settled') AS settledCount,
             coalesce(sum(CASE WHEN o.outcome = 'settled' THEN o.amount_minor END), 0) AS settledMinor,
             sum(o.outcome = 'merchant_loss') AS lossCount,
             coalesce(sum(CASE WHEN o.outcome = 'merchant_loss' THEN o.amount_minor END), 0) AS lossMinor
           ${where} GROUP BY t.merchant_id, o.currency ORDER BY t.merchant_id, o.currency`,
        )
        .all(params) as OfflineReportTotals[];
      const losses = this.db
        .prepare(
          `SELECT t.merchant_id AS merchantId, o.terminal_id AS terminalId, o.offline_id AS offlineId,
             o.amount_minor AS amountMinor, o.currency, o.loss_reason AS reason, o.approved_at AS approvedAt,
             o.forwarded_at AS forwardedAt
           ${where} AND o.outcome = 'merchant_loss' ORDER BY o.forwarded_at, o.settlement_id`,
        )
        .all(params) as OfflineLoss[];
      return { fromMs: o.fromMs, toMs: o.toMs, totals, losses };
    });
  }

  private offlineTarget(target: OfflineLimitsTarget): { table: 'merchants' | 'terminals'; id: string } {
    const [table, id] =
      'terminalId' in target
        ? (['terminals', target.terminalId] as const)
        : (['merchants', target.merchantId] as const);
    if (!this.one(`SELECT 1 AS x FROM ${table} WHERE id = ?`, id))
      throw new RegistryError('not_found', `no ${table === 'terminals' ? 'terminal' : 'merchant'} ${id}`);
    return { table, id };
  }

  private offlineView(target: OfflineLimitsTarget): OfflineLimitsView {
    const cols = Object.entries(OFFLINE_LIMIT_COLUMNS)
      .map(([k, c]) => `x.${c} AS "${k}"`)
      .join(', ');
    const settings = (r: Record<string, unknown>): OfflineLimitSettings => ({
      floorLimitMinor: r.floorLimitMinor as number | null,
      exposureMinor: r.exposureMinor as number | null,
      cardDailyCount: r.cardDailyCount as number | null,
      cardDailyAmountMinor: r.cardDailyAmountMinor as number | null,
    });
    let terminalId: string | null = null;
    let terminal: OfflineLimitSettings | null = null;
    let merchantId: string;
    if ('terminalId' in target) {
      const t = this.one<Record<string, unknown>>(
        `SELECT x.merchant_id AS merchantId, ${cols} FROM terminals x WHERE x.id = ?`,
        target.terminalId,
      )!;
      terminalId = target.terminalId;
      terminal = settings(t);
      merchantId = t.merchantId as string;
    } else merchantId = target.merchantId;
    const m = this.one<Record<string, unknown>>(
      `SELECT a.currency AS currency, ${cols} FROM merchants x JOIN accounts a ON a.id = x.account_id WHERE x.id = ?`,
      merchantId,
    )!;
    const merchant = settings(m);
    return {
      merchantId,
      terminalId,
      currency: m.currency as string,
      merchant,
      terminal,
      effective: effectiveOfflineLimits(merchant, terminal ?? undefined),
    };
  }

  close(): Promise<void> {
    if (this.owned && this.db.open) this.db.close();
    return Promise.resolve();
  }

  /** The port is asynchronous; better-sqlite3 is not: run at once, a throw as a rejection. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}
