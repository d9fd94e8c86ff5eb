import type { CardStatus, StoreTx } from '../../ports/backend-store';
import type {
  CardStatusAt,
  OfflineSaleQueries,
  OfflineSaleRow,
  OfflineSaleStore,
} from '../../ports/offline-sale-store';
import type { Db } from './open-database';
import { OFFLINE_LIMIT_COLUMNS, offlineLimitSettingsOf as settingsOf } from '../../ports/registry-admin';

const COLUMNS = `settlement_id AS settlementId, terminal_id AS terminalId, offline_id AS offlineId, card_id AS cardId, atc,
  outcome, loss_reason AS lossReason, amount_minor AS amountMinor, currency, approved_at AS approvedAt, forwarded_at AS forwardedAt`;

/** The offline limit columns (migration 0011) of the row aliased `a`, named `<a>_<field>`. */
const LIMITS = (a: string) =>
  Object.entries(OFFLINE_LIMIT_COLUMNS)
    .map(([k, c]) => `${a}.${c} AS ${a}_${k}`)
    .join(', ');

/**
 * OfflineSaleStore on the backend's SQLite file (the connection of SqliteBackendStore): its
 * queries run synchronously inside whatever transaction that connection is in, so `within(tx)`
 * needs nothing of `tx` but to be called inside its commit() or read().
 */
export class SqliteOfflineSaleStore implements OfflineSaleStore {
  private readonly queries: OfflineSaleQueries;

  constructor(db: Db) {
    const p = (sql: string) => db.prepare(sql);
    const stmt = {
      lastChangeUpTo: p(
        'SELECT new_status AS status, changed_at AS at FROM card_status_changes WHERE card_id = ? AND changed_at <= ? ORDER BY changed_at DESC, id DESC LIMIT 1',
      ),
      firstChangeAfter: p(
        'SELECT old_status AS status FROM card_status_changes WHERE card_id = ? AND changed_at > ? ORDER BY changed_at, id LIMIT 1',
      ),
      status: p('SELECT status FROM cards WHERE id = ?'),
      insert:
        p(`INSERT INTO offline_sales (settlement_id, terminal_id, offline_id, card_id, atc, outcome, loss_reason,
                   amount_minor, currency, approved_at, forwarded_at)
                 VALUES (@settlementId, @terminalId, @offlineId, @cardId, @atc, @outcome, @lossReason, @amountMinor,
                   @currency, @approvedAt, @forwardedAt)`),
      limits: p(
        `SELECT ${LIMITS('m')}, ${LIMITS('t')} FROM terminals t JOIN merchants m ON m.id = t.merchant_id WHERE t.id = ?`,
      ),
      notGood: p(
        "SELECT pan_enc AS panEnc, pan_sequence AS panSequence FROM cards WHERE status <> 'active' ORDER BY id",
      ),
      list: p(`SELECT ${COLUMNS} FROM offline_sales WHERE (@t IS NULL OR terminal_id = @t)
                 AND forwarded_at >= @from AND forwarded_at < @to ORDER BY forwarded_at, settlement_id`),
    };
    const statusAt = (cardId: string, atMs: number): CardStatusAt | undefined => {
      const last = stmt.lastChangeUpTo.get(cardId, atMs) as { status: CardStatus; at: number } | undefined;
      if (last) return { status: last.status, sinceMs: last.at };
      const next = stmt.firstChangeAfter.get(cardId, atMs) as { status: CardStatus } | undefined;
      if (next) return { status: next.status, sinceMs: 0 };
      const card = stmt.status.get(cardId) as { status: CardStatus } | undefined;
      return card && { status: card.status, sinceMs: 0 };
    };
    this.queries = {
      cardStatusAt: async (cardId, atMs) => statusAt(cardId, atMs),
      insertOfflineSale: async (row) => {
        stmt.insert.run(row);
      },
      listOfflineSales: async (terminalId, fromMs, toMs) =>
        stmt.list.all({ t: terminalId ?? null, from: fromMs, to: toMs }) as OfflineSaleRow[],
      offlineLimitsOf: async (terminalId) => {
        const r = stmt.limits.get(terminalId) as Record<string, number | null> | undefined;
        return r && { merchant: settingsOf(r, 'm'), terminal: settingsOf(r, 't') };
      },
      cardsNotInGoodStanding: async () =>
        (stmt.notGood.all() as { panEnc: Buffer; panSequence: number }[]).map((c) => ({
          panEnc: new Uint8Array(c.panEnc),
          panSequence: c.panSequence,
        })),
    };
  }

  within(_tx: StoreTx): OfflineSaleQueries {
    return this.queries;
  }
}
