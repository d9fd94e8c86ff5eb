/**
 * The till's journal of the sales it approved offline: each written (and on disk) before the
 * shopper is told, forwarded later in the order approved, each once (its own offline id), and
 * kept through a restart in whatever state it was: 'approved' (not yet sent), 'forwarding' (sent,
 * no answer yet: sent again, the card company answers a repeat with its stored answer), then what
 * the card company made of it.
 *
 * @example
 *   await journal.record({ offlineId, request, cardKey, atc, amountMinor, currency, maskedPan, approvedAt });
 *   for (const s of journal.open()) { journal.transition(s.offlineId, 'forwarding', null, null, now); ... }
 */
export type OfflineSaleState = 'approved' | 'forwarding' | 'settled' | 'merchant_loss' | 'declined';

export interface OfflineSaleRecord {
  readonly seq: number;
  readonly offlineId: string;
  readonly state: OfflineSaleState;
  /** The encoded ForwardOfflineRequest while the card company has not judged it; empty after (the card's data wiped). */
  readonly request: Uint8Array;
  readonly cardKey: string;
  readonly atc: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly maskedPan: string;
  readonly approvedAt: number;
  /** The card company's encoded SettleResponse, once it answered. */
  readonly response: Uint8Array | null;
  /** For 'merchant_loss' (and 'declined'): why. */
  readonly lossReason: string | null;
  readonly updatedAt: number;
}

export interface OfflineJournal {
  /** The approval, state 'approved'; resolves once it is on disk (only then is the shopper told). */
  record(a: {
    offlineId: string;
    request: Uint8Array;
    cardKey: string;
    atc: number;
    amountMinor: number;
    currency: string;
    maskedPan: string;
    approvedAt: number;
  }): Promise<void>;
  transition(
    offlineId: string,
    to: OfflineSaleState,
    answer: { response: Uint8Array; lossReason: string | null } | null,
    at: number,
  ): void;
  /** Not yet judged by the card company ('approved', 'forwarding'), in the order approved. */
  open(): OfflineSaleRecord[];
  /** Every offline sale approved at or after `sinceMs` (the policy's daily allowances), in order. */
  since(sinceMs: number): OfflineSaleRecord[];
  /** Whether this card's ATC was approved offline here already. */
  hasAtc(cardKey: string, atc: number): boolean;
  /** The highest clock reading the offline policy has seen (0: none); it is only ever raised. */
  highestTime(): number;
  raiseHighestTime(ms: number): void;
  close(): void;
}
