/**
 * Storage of forwarded offline sales (Settlement.ForwardOffline), of what the card company
 * knew of a card at a given time, and what a till's offline parameters are made of (the limits
 * set for its merchant and itself, the cards not in good standing), as queries bound to one transaction of the BackendStore: the
 * offline row commits with its settlement and ledger postings, or not at all.
 *
 * @example
 *   await store.commit(async (tx) => {
 *     const offline = offlineSales.within(tx);
 *     if ((await offline.cardStatusAt(cardId, approvedAtMs))?.status !== 'active') ...;
 *     const { settlementId } = await recordSale(tx, ...); await offline.insertOfflineSale({ settlementId, ... });
 *   });
 */
import type { CardStatus, StoreTx } from './backend-store';
import type { OfflineLimitSettings } from '../domain/offline-limits';

export type OfflineSaleOutcome = 'settled' | 'merchant_loss';

export interface OfflineSaleRow {
  readonly settlementId: number;
  readonly terminalId: string;
  readonly offlineId: string;
  /** null when the TC named no card the card company knows (or did not hold at all). */
  readonly cardId: string | null;
  readonly atc: number | null;
  readonly outcome: OfflineSaleOutcome;
  /** null when settled. */
  readonly lossReason: string | null;
  readonly amountMinor: number;
  readonly currency: string;
  /** When the till approved it (its clock), and when the card company judged it (ms). */
  readonly approvedAt: number;
  readonly forwardedAt: number;
}

/** A card's status at a moment, and since when it had it (0: since before any recorded change). */
export interface CardStatusAt {
  readonly status: CardStatus;
  readonly sinceMs: number;
}

/** The queries of one transaction. */
export interface OfflineSaleQueries {
  /** The card's status at `atMs` from its recorded changes (its current status when none came after). */
  cardStatusAt(cardId: string, atMs: number): Promise<CardStatusAt | undefined>;
  insertOfflineSale(row: OfflineSaleRow): Promise<void>;
  /** Offline sales forwarded in [fromMs, toMs), by terminal (all when undefined), oldest first. */
  listOfflineSales(terminalId: string | undefined, fromMs: number, toMs: number): Promise<OfflineSaleRow[]>;
  /** A terminal's and its merchant's offline limit settings (migration 0011); undefined for an unknown terminal. */
  offlineLimitsOf(
    terminalId: string,
  ): Promise<
    { readonly merchant: OfflineLimitSettings; readonly terminal: OfflineLimitSettings } | undefined
  >;
  /** Every payment card not in good standing (blocked, lost, stolen): the block list's cards. */
  cardsNotInGoodStanding(): Promise<{ readonly panEnc: Uint8Array; readonly panSequence: number }[]>;
}

export interface OfflineSaleStore {
  /** The queries on the transaction `tx` (from BackendStore.commit or read). */
  within(tx: StoreTx): OfflineSaleQueries;
}
