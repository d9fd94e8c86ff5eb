/**
 * RegistryAdmin on PostgreSQL (the `postgres` driver): each write checks its input (the port's
 * rules), then runs in one transaction (`sql.begin`) that locks the rows it decides on; a unique
 * key another node took first is a RegistryError('duplicate'), never a half-written card.
 * `open(url)` connects (multi-host URLs with target_session_attrs included) and runs
 * migratePostgres first, so the schema is the one this release writes.
 */
import postgres, { type Sql, type TransactionSql } from 'postgres';
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
  type OfflineReport,
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
import { migratePostgres } from './migrate';
import { postgresErrorKind } from './postgres-errors';

type Tx = TransactionSql;
type Row = Record<string, unknown>;

const merchantOf = (r: Row): MerchantSummary => ({
  id: r.id as string,
  name: r.name as string,
  status: r.status as MerchantSummary['status'],
  currency: r.currency as string,
  terminals: Number(r.terminals),
});
const terminalOf = (r: Row): TerminalSummary => ({
  id: r.id as string,
  merchantId: r.merchant_id as string,
  status: r.status as TerminalSummary['status'],
  certificates: Number(r.certificates),
});
const cardOf = (r: Row): CardSummary => ({
  id: r.id as string,
  panMasked: r.pan_masked as string,
  expiry: r.expiry as string,
  cardholderName: r.cardholder_name as string,
  status: r.status as CardStatus,
  pinTries: Number(r.pin_tries),
  creditLimitMinor: Number(r.credit_limit_minor),
  currency: r.currency as string,
  balanceMinor: Number(r.balance_minor ?? 0),
  lastAtc: Number(r.last_atc),
});

export class PostgresRegistryAdmin implements RegistryAdmin {
  /** Connects to `url`, migrates the database to this release's schema, and owns the connection (close() ends it). */
  static async open(url: string): Promise<PostgresRegistryAdmin> {
    const sql = postgres(url, { max: 2, onnotice: () => undefined, connect_timeout: 10 });
    try {
      await migratePostgres(sql);
    } catch (e) {
      await sql.end({ timeout: 1 });
      throw e;
    }
    return new PostgresRegistryAdmin(sql, { owned: true });
  }

  private readonly owned: boolean;

  /** Over a connection the caller migrated and keeps (not ended by close()). */
  constructor(
    private readonly sql: Sql,
    o: { owned?: boolean } = {},
  ) {
    this.owned = o.owned ?? false;
  }

  /** fn, then `within`, in one transaction; a unique key taken meanwhile is `duplicate` (what = its name). */
  private async write<T>(what: string, fn: (tx: Tx) => Promise<T>, within?: WithinTransaction): Promise<T> {
    try {
      return (await this.sql.begin(async (tx) => {
        const result = await fn(tx);
        if (within) await within();
        return result;
      })) as T;
    } catch (e) {
      if (postgresErrorKind(e) === 'unique_violation')
        throw new RegistryError('duplicate', `${what} is registered already`, { cause: e });
      throw e;
    }
  }

  private async cardTaken(tx: Tx, id: string, panHash: string): Promise<boolean> {
    const rows = await tx`SELECT 1 FROM cards WHERE id = ${id} OR pan_hash = ${panHash}
      UNION ALL SELECT 1 FROM merchant_cards WHERE id = ${id} OR pan_hash = ${panHash}`;
    return rows.length > 0;
  }

  async addMerchant(m: NewMerchant): Promise<void> {
    checkNewMerchant(m);
    const account = accountIdOf(m.id);
    await this.write(`merchant ${m.id} or account ${account}`, async (tx) => {
      if ((await tx`SELECT 1 FROM merchants WHERE id = ${m.id}`).length > 0)
        throw new RegistryError('duplicate', `merchant ${m.id} is registered already`);
      if ((await tx`SELECT 1 FROM accounts WHERE id = ${account}`).length > 0)
        throw new RegistryError('duplicate', `account ${account} exists already`);
      await tx`INSERT INTO accounts (id, kind, currency) VALUES (${account}, 'merchant', ${m.currency})`;
      await tx`INSERT INTO merchants (id, name, status, account_id) VALUES (${m.id}, ${m.name}, ${m.status ?? 'active'}, ${account})`;
    });
  }

  /** The terminal row; `forCard`: a merchant card's own, allowed for an inactive merchant (its card stays refused at payment). */
  private async insertTerminal(tx: Tx, t: NewTerminal, o: { forCard?: boolean } = {}): Promise<void> {
    const [merchant] = await tx`SELECT status FROM merchants WHERE id = ${t.merchantId} FOR SHARE`;
    if (!merchant) throw new RegistryError('not_found', `no merchant ${t.merchantId}`);
    if (merchant.status !== 'active' && !o.forCard)
      throw new RegistryError('state', `merchant ${t.merchantId} is ${String(merchant.status)}`);
    if ((await tx`SELECT 1 FROM terminals WHERE id = ${t.id}`).length > 0)
      throw new RegistryError('duplicate', `terminal ${t.id} is registered already`);
    await tx`INSERT INTO terminals (id, merchant_id, status) VALUES (${t.id}, ${t.merchantId}, 'active')`;
  }

  async addTerminal(t: NewTerminal): Promise<void> {
    checkNewTerminal(t);
    await this.write(`terminal ${t.id}`, (tx) => this.insertTerminal(tx, t));
  }

  async addCard(c: CardRecord, within?: WithinTransaction): Promise<void> {
    checkCardRecord(c);
    const account = accountIdOf(c.id);
    await this.write(
      `card ${c.id} or card number ${c.panMasked}`,
      async (tx) => {
        if (await this.cardTaken(tx, c.id, c.panHash))
          throw new RegistryError(
            'duplicate',
            `card ${c.id} or card number ${c.panMasked} is registered already`,
          );
        if ((await tx`SELECT 1 FROM accounts WHERE id = ${account}`).length > 0)
          throw new RegistryError('duplicate', `account ${account} exists already`);
        await tx`INSERT INTO accounts (id, kind, currency) VALUES (${account}, 'cardholder', ${c.currency})`;
        await tx`INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, pan_sequence, expiry, cardholder_name, status, pin_salt,
                                    pin_verifier, credit_limit_minor, currency, account_id)
          VALUES (${c.id}, ${c.panHash}, ${Buffer.from(c.panEnc)}, ${c.panMasked}, ${c.panSequence}, ${c.expiry},
                  ${c.cardholderName}, ${c.status}, ${Buffer.from(c.pinSalt)}, ${Buffer.from(c.pinVerifier)},
                  ${c.creditLimitMinor}, ${c.currency}, ${account})`;
      },
      within,
    );
  }

  async addMerchantCard(c: MerchantCardRecord, within?: WithinTransaction): Promise<void> {
    checkMerchantCardRecord(c);
    const terminalId = merchantCardTerminalId(c.id);
    await this.write(
      `card ${c.id} or card number ${c.panMasked}`,
      async (tx) => {
        if (await this.cardTaken(tx, c.id, c.panHash))
          throw new RegistryError(
            'duplicate',
            `card ${c.id} or card number ${c.panMasked} is registered already`,
          );
        await this.insertTerminal(tx, { id: terminalId, merchantId: c.merchantId }, { forCard: true });
        await tx`INSERT INTO merchant_cards (id, pan_hash, pan_masked, pan_sequence, expiry, merchant_id, terminal_id, status, issued_at)
          VALUES (${c.id}, ${c.panHash}, ${c.panMasked}, ${c.panSequence}, ${c.expiry}, ${c.merchantId}, ${terminalId},
                  ${c.status}, ${c.issuedAt})`;
      },
      within,
    );
  }

  async setCardStatus(cardId: string, status: CardStatus): Promise<CardStatus> {
    checkCardStatus(status);
    return this.write(`card ${cardId}`, async (tx) => {
      const [card] = await tx`SELECT status FROM cards WHERE id = ${cardId} FOR UPDATE`;
      if (!card) throw new RegistryError('not_found', `no card ${cardId}`);
      if (card.status === status) throw new RegistryError('state', `card ${cardId} is ${status} already`);
      await tx`UPDATE cards SET status = ${status} WHERE id = ${cardId}`;
      return card.status as CardStatus;
    });
  }

  async setMerchantCardStatus(cardId: string, status: MerchantCardStatus): Promise<MerchantCardStatus> {
    checkMerchantCardStatus(status);
    return this.write(`card ${cardId}`, async (tx) => {
      const [card] = await tx`SELECT status FROM merchant_cards WHERE id = ${cardId} FOR UPDATE`;
      if (!card) throw new RegistryError('not_found', `no merchant card ${cardId}`);
      if (card.status === status) throw new RegistryError('state', `card ${cardId} is ${status} already`);
      await tx`UPDATE merchant_cards SET status = ${status} WHERE id = ${cardId}`;
      return card.status as MerchantCardStatus;
    });
  }

  async resetPinTries(cardId: string): Promise<number> {
    return this.write(`card ${cardId}`, async (tx) => {
      const [card] = await tx`SELECT pin_tries FROM cards WHERE id = ${cardId} FOR UPDATE`;
      if (!card) throw new RegistryError('not_found', `no card ${cardId}`);
      const tries = Number(card.pin_tries);
      if (tries === 0) throw new RegistryError('state', `card ${cardId} has no wrong PIN tries to reset`);
      await tx`UPDATE cards SET pin_tries = 0 WHERE id = ${cardId}`;
      return tries;
    });
  }

  async recordTerminalCertificate(
    c: TerminalCertificateRecord,
    o: { readonly replace?: boolean } = {},
  ): Promise<{ readonly revoked: number }> {
    checkTerminalCertificate(c);
    return this.write(`certificate ${c.serial}`, async (tx) => {
      if ((await tx`SELECT 1 FROM terminals WHERE id = ${c.terminalId} FOR SHARE`).length === 0)
        throw new RegistryError('not_found', `no terminal ${c.terminalId}`);
      if ((await tx`SELECT 1 FROM terminal_certificates WHERE fingerprint = ${c.fingerprint}`).length > 0)
        throw new RegistryError('duplicate', `certificate ${c.serial} is recorded already`);
      const revoked = o.replace
        ? (
            await tx`UPDATE terminal_certificates SET revoked_at = ${c.issuedAt}
              WHERE terminal_id = ${c.terminalId} AND revoked_at IS NULL`
          ).count
        : 0;
      await tx`INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at)
        VALUES (${c.fingerprint}, ${c.terminalId}, ${c.serial}, ${c.notAfter}, ${c.issuedAt})`;
      return { revoked };
    });
  }

  async revokeTerminalCertificates(
    terminalId: string,
    o: { readonly serial?: string; readonly now?: number } = {},
  ): Promise<number> {
    checkId('terminal', terminalId);
    const now = o.now ?? Date.now();
    return this.write(`terminal ${terminalId}`, async (tx) => {
      const r =
        o.serial === undefined
          ? await tx`UPDATE terminal_certificates SET revoked_at = ${now}
              WHERE terminal_id = ${terminalId} AND revoked_at IS NULL`
          : await tx`UPDATE terminal_certificates SET revoked_at = ${now}
              WHERE terminal_id = ${terminalId} AND upper(serial) = upper(${o.serial}) AND revoked_at IS NULL`;
      return r.count;
    });
  }

  private merchants(where: postgres.PendingQuery<postgres.Row[]> | undefined) {
    return this.sql`SELECT m.id, m.name, m.status, a.currency::text AS currency,
        (SELECT count(*) FROM terminals t WHERE t.merchant_id = m.id) AS terminals
      FROM merchants m JOIN accounts a ON a.id = m.account_id ${where ?? this.sql``} ORDER BY m.id`;
  }

  async setOfflineLimits(
    target: OfflineLimitsTarget,
    settings: Partial<OfflineLimitSettings>,
  ): Promise<OfflineLimitsView> {
    checkOfflineLimits(target, settings);
    return this.write('offline limits', async (tx) => {
      const { table, id } = await this.offlineTarget(tx, target, true);
      const values = Object.fromEntries(
        (Object.keys(OFFLINE_LIMIT_COLUMNS) as (keyof OfflineLimitSettings)[])
          .filter((k) => settings[k] !== undefined)
          .map((k) => [OFFLINE_LIMIT_COLUMNS[k], settings[k]]),
      );
      await tx`UPDATE ${tx(table)} SET ${tx(values)} WHERE id = ${id}`;
      return this.offlineView(tx, target);
    });
  }

  async offlineLimits(target: OfflineLimitsTarget): Promise<OfflineLimitsView> {
    await this.offlineTarget(this.sql, target, false);
    return this.offlineView(this.sql, target);
  }

  async offlineReport(o: { fromMs: number; toMs: number; merchantId?: string }): Promise<OfflineReport> {
    checkReportPeriod(o);
    const m = o.merchantId ?? null;
    if (m !== null && (await this.sql`SELECT 1 FROM merchants WHERE id = ${m}`).length === 0)
      throw new RegistryError('not_found', `no merchant ${m}`);
    const where = this.sql`FROM offline_sales o JOIN terminals t ON t.id = o.terminal_id
      WHERE o.forwarded_at >= ${o.fromMs} AND o.forwarded_at < ${o.toMs} AND (${m}::text IS NULL OR t.merchant_id = ${m})`;
    const totals = await this.sql`SELECT t.merchant_id, o.currency,
        count(*) FILTER (WHERE o.outcome = 'settled') AS settled_count,
        coalesce(sum(o.amount_minor) FILTER (WHERE o.outcome = 'settled'), 0) AS settled_minor,
        count(*) FILTER (WHERE o.outcome = 'merchant_loss') AS loss_count,
        coalesce(sum(o.amount_minor) FILTER (WHERE o.outcome = 'merchant_loss'), 0) AS loss_minor
      ${where} GROUP BY t.merchant_id, o.currency ORDER BY t.merchant_id, o.currency`;
    const losses = await this
      .sql`SELECT t.merchant_id, o.terminal_id, o.offline_id, o.amount_minor, o.currency,
        o.loss_reason, o.approved_at, o.forwarded_at
      ${where} AND o.outcome = 'merchant_loss' ORDER BY o.forwarded_at, o.settlement_id`;
    return {
      fromMs: o.fromMs,
      toMs: o.toMs,
      totals: totals.map((r) => ({
        merchantId: r.merchant_id as string,
        currency: r.currency as string,
        settledCount: Number(r.settled_count),
        settledMinor: Number(r.settled_minor),
        lossCount: Number(r.loss_count),
        lossMinor: Number(r.loss_minor),
      })),
      losses: losses.map((r) => ({
        merchantId: r.merchant_id as string,
        terminalId: r.terminal_id as string,
        offlineId: r.offline_id as string,
        amountMinor: Number(r.amount_minor),
        currency: r.currency as string,
        reason: r.loss_reason as string,
        approvedAt: Number(r.approved_at),
        forwardedAt: Number(r.forwarded_at),
      })),
    };
  }

  private async offlineTarget(
    q: Sql | Tx,
    target: OfflineLimitsTarget,
    lock: boolean,
  ): Promise<{ table: 'merchants' | 'terminals'; id: string }> {
    const [table, id] =
      'terminalId' in target
        ? (['terminals', target.terminalId] as const)
        : (['merchants', target.merchantId] as const);
    const rows = await q`SELECT 1 FROM ${q(table)} WHERE id = ${id} ${lock ? q`FOR UPDATE` : q``}`;
    if (rows.length === 0)
      throw new RegistryError('not_found', `no ${table === 'terminals' ? 'terminal' : 'merchant'} ${id}`);
    return { table, id };
  }

  private async offlineView(q: Sql | Tx, target: OfflineLimitsTarget): Promise<OfflineLimitsView> {
    const settings = (r: Row): OfflineLimitSettings => {
      const n = (c: string) => (r[c] === null || r[c] === undefined ? null : Number(r[c]));
      return {
        floorLimitMinor: n(OFFLINE_LIMIT_COLUMNS.floorLimitMinor),
        exposureMinor: n(OFFLINE_LIMIT_COLUMNS.exposureMinor),
        cardDailyCount: n(OFFLINE_LIMIT_COLUMNS.cardDailyCount),
        cardDailyAmountMinor: n(OFFLINE_LIMIT_COLUMNS.cardDailyAmountMinor),
      };
    };
    let terminalId: string | null = null;
    let terminal: OfflineLimitSettings | null = null;
    let merchantId: string;
    if ('terminalId' in target) {
      const [t] = await q`SELECT * FROM terminals WHERE id = ${target.terminalId}`;
      terminalId = target.terminalId;
      terminal = settings(t!);
      merchantId = t!.merchant_id as string;
    } else merchantId = target.merchantId;
    const [m] = await q`SELECT x.*, a.currency AS merchant_currency FROM merchants x
      JOIN accounts a ON a.id = x.account_id WHERE x.id = ${merchantId}`;
    const merchant = settings(m!);
    return {
      merchantId,
      terminalId,
      currency: m!.merchant_currency as string,
      merchant,
      terminal,
      effective: effectiveOfflineLimits(merchant, terminal ?? undefined),
    };
  }

  async findMerchant(id: string): Promise<MerchantSummary | undefined> {
    const [row] = await this.merchants(this.sql`WHERE m.id = ${id}`);
    return row && merchantOf(row);
  }

  async listMerchants(): Promise<MerchantSummary[]> {
    return (await this.merchants(undefined)).map(merchantOf);
  }

  private terminals(where: postgres.PendingQuery<postgres.Row[]> | undefined) {
    return this.sql`SELECT t.id, t.merchant_id, t.status,
        (SELECT count(*) FROM terminal_certificates c WHERE c.terminal_id = t.id AND c.revoked_at IS NULL) AS certificates
      FROM terminals t ${where ?? this.sql``} ORDER BY t.id`;
  }

  async findTerminal(id: string): Promise<TerminalSummary | undefined> {
    const [row] = await this.terminals(this.sql`WHERE t.id = ${id}`);
    return row && terminalOf(row);
  }

  async listTerminals(o: { readonly merchantId?: string } = {}): Promise<TerminalSummary[]> {
    const where = o.merchantId === undefined ? undefined : this.sql`WHERE t.merchant_id = ${o.merchantId}`;
    return (await this.terminals(where)).map(terminalOf);
  }

  async findCard(id: string): Promise<RegisteredCard | undefined> {
    const [payment] = await this.sql`SELECT status, pin_tries FROM cards WHERE id = ${id}`;
    if (payment)
      return {
        kind: 'payment',
        id,
        status: payment.status as CardStatus,
        pinTries: Number(payment.pin_tries),
      };
    const [merchant] = await this
      .sql`SELECT status, merchant_id, terminal_id FROM merchant_cards WHERE id = ${id}`;
    return (
      merchant && {
        kind: 'merchant',
        id,
        status: merchant.status as MerchantCardStatus,
        merchantId: merchant.merchant_id as string,
        terminalId: merchant.terminal_id as string,
      }
    );
  }

  private cards(where: postgres.PendingQuery<postgres.Row[]> | undefined) {
    return this
      .sql`SELECT c.id, c.pan_masked, c.expiry, c.cardholder_name, c.status, c.pin_tries, c.credit_limit_minor,
        c.currency::text AS currency,
        (SELECT SUM(b.balance_minor) FROM account_balance_slots b WHERE b.account_id = c.account_id) AS balance_minor,
        c.last_atc
      FROM cards c ${where ?? this.sql``} ORDER BY c.id`;
  }

  async listCards(o: { readonly status?: CardStatus } = {}): Promise<CardSummary[]> {
    if (o.status !== undefined) checkCardStatus(o.status);
    const where = o.status === undefined ? undefined : this.sql`WHERE c.status = ${o.status}`;
    return (await this.cards(where)).map(cardOf);
  }

  async showCard(id: string): Promise<CardSummary | undefined> {
    const [row] = await this.cards(this.sql`WHERE c.id = ${id}`);
    return row && cardOf(row);
  }

  async counts(): Promise<RegistryCounts> {
    const [r] = await this
      .sql`SELECT (SELECT count(*) FROM merchants) AS merchants, (SELECT count(*) FROM terminals) AS terminals,
      (SELECT count(*) FROM cards) AS cards, (SELECT count(*) FROM merchant_cards) AS merchant_cards`;
    return {
      merchants: Number(r!.merchants),
      terminals: Number(r!.terminals),
      cards: Number(r!.cards),
      merchantCards: Number(r!.merchant_cards),
    };
  }

  async close(): Promise<void> {
    if (this.owned) await this.sql.end({ timeout: 5 });
  }
}
