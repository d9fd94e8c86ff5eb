import type { CardStatus, StoreTx } from '../../ports/backend-store';
import type {
  CardStatusAt,
  OfflineSaleQueries,
  OfflineSaleRow,
  OfflineSaleStore,
} from '../../ports/offline-sale-store';
import { queryOfTx } from './backend-store.postgres';
import { OFFLINE_LIMIT_COLUMNS, offlineLimitSettingsOf as settingsOf } from '../../ports/registry-admin';

/** The offline limit columns (migration 0011) of the row aliased `a`, named `<a>_<field>`. */
const LIMITS = (a: string) =>
  Object.entries(OFFLINE_LIMIT_COLUMNS)
    .map(([k, c]) => `${a}.${c} AS "${a}_${k}"`)
    .join(', ');

const COLUMNS = `settlement_id AS "settlementId", terminal_id AS "terminalId", offline_id AS "offlineId", card_id AS "cardId",
  atc, outcome, loss_reason AS "lossReason", amount_minor AS "amountMinor", currency, approved_at AS "approvedAt",
  forwarded_at AS "forwardedAt"`;

/**
 * OfflineSaleStore on PostgreSQL (migration 0010): the queries run on the transaction of
 * PostgresBackendStore that `tx` is, so an offline row commits with its settlement and postings.
 */
export class PostgresOfflineSaleStore implements OfflineSaleStore {
  within(tx: StoreTx): OfflineSaleQueries {
    const q = queryOfTx(tx);
    const one = async <T>(text: string, params: readonly unknown[]) => (await q<T>(text, params))[0];
    const statusAt = async (cardId: string, atMs: number): Promise<CardStatusAt | undefined> => {
      const last = await one<{ status: CardStatus; at: number }>(
        'SELECT new_status AS status, changed_at AS at FROM card_status_changes WHERE card_id = $1 AND changed_at <= $2 ORDER BY changed_at DESC, id DESC LIMIT 1',
        [cardId, atMs],
      );
      if (last) return { status: last.status, sinceMs: last.at };
      const next = await one<{ status: CardStatus }>(
        'SELECT old_status AS status FROM card_status_changes WHERE card_id = $1 AND changed_at > $2 ORDER BY changed_at, id LIMIT 1',
        [cardId, atMs],
      );
      if (next) return { status: next.status, sinceMs: 0 };
      const card = await one<{ status: CardStatus }>('SELECT status FROM cards WHERE id = $1', [cardId]);
      return card && { status: card.status, sinceMs: 0 };
    };
    return {
      cardStatusAt: statusAt,
      insertOfflineSale: async (r: OfflineSaleRow) => {
        await q(
          `INSERT INTO offline_sales (settlement_id, terminal_id, offline_id, card_id, atc, outcome, loss_reason,
             amount_minor, currency, approved_at, forwarded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [
            r.settlementId,
            r.terminalId,
            r.offlineId,
            r.cardId,
            r.atc,
            r.outcome,
            r.lossReason,
            r.amountMinor,
            r.currency,
            r.approvedAt,
            r.forwardedAt,
          ],
        );
      },
      listOfflineSales: (terminalId, fromMs, toMs) =>
        q<OfflineSaleRow>(
          `SELECT ${COLUMNS} FROM offline_sales WHERE ($1::text IS NULL OR terminal_id = $1)
             AND forwarded_at >= $2 AND forwarded_at < $3 ORDER BY forwarded_at, settlement_id`,
          [terminalId ?? null, fromMs, toMs],
        ),
      offlineLimitsOf: async (terminalId) => {
        const r = await one<Record<string, unknown>>(
          `SELECT ${LIMITS('m')}, ${LIMITS('t')} FROM terminals t JOIN merchants m ON m.id = t.merchant_id WHERE t.id = $1`,
          [terminalId],
        );
        return r && { merchant: settingsOf(r, 'm'), terminal: settingsOf(r, 't') };
      },
      cardsNotInGoodStanding: async () =>
        (
          await q<{ panEnc: Buffer; panSequence: number }>(
            `SELECT pan_enc AS "panEnc", pan_sequence AS "panSequence" FROM cards WHERE status <> 'active' ORDER BY id`,
            [],
          )
        ).map((c) => ({ panEnc: new Uint8Array(c.panEnc), panSequence: Number(c.panSequence) })),
    };
  }
}
