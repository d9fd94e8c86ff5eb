/**
 * The last step of every sale, whoever asked for it (a till's Settle, a till's SettleWithCode, a
 * phone's PayMerchant): sign the receipt, store the result under (terminal, transaction id) with
 * the request's hash, and for an approved sale open the terminal's batch and post the balanced
 * ledger pair. Runs inside the caller's transaction, so the result and its postings commit
 * together or not at all.
 */
import { SettleResponse, encodeProto, type DeclineCode, type Item, type Money } from '@bluetill/protocol';
import type { BatchStore, MerchantRow, SettlementStore } from '../ports/backend-store';
import type { KeyStore } from '../ports/key-store';
import { salePostings } from '../domain/ledger';
import { approvalCode, signReceipt } from './receipt-signer';

export interface SaleToRecord {
  readonly terminalId: string;
  readonly terminalTxnId: string;
  readonly requestHash: Uint8Array;
  /**
   * The merchant the terminal registry gives the terminal ('' when the terminal is not
   * registered), and that merchant's row (undefined when unknown). The sale, approved or declined,
   * is filed under this merchant, never under a merchant id the request names.
   */
  readonly terminalMerchantId: string;
  readonly merchant: MerchantRow | undefined;
  /** The card's row when it is known: its id and account. */
  readonly card: { readonly id: string; readonly accountId: string } | null | undefined;
  readonly maskedPan: string;
  readonly items: readonly Item[];
  readonly amount: Money;
  /** null: approved. */
  readonly decline: DeclineCode | null;
  readonly now: number;
  /** The ATC of the card's cryptogram the outcome concerns (signed on the receipt); 0 or absent: none. */
  readonly atc?: number;
  /** A till's cancellation before settling (signed as result "cancelled"); the decline must be 'cancelled'. */
  readonly cancelled?: boolean;
  /** A sale the till approved offline and forwarded: signed as such, with why it is the merchant's loss when declined. */
  readonly offline?: { readonly lossReason: string };
}

export async function recordSale(
  tx: SettlementStore & BatchStore,
  keys: KeyStore,
  s: SaleToRecord,
): Promise<{ response: SettleResponse; settlementId: number }> {
  const approved = s.decline === null;
  if (approved && (!s.card || !s.merchant))
    throw new Error('an approved sale needs a known card and merchant');
  const receipt = signReceipt(keys, {
    receiptId: `R-${s.terminalId}-${s.terminalTxnId}`,
    merchantId: s.merchant?.id ?? s.terminalMerchantId,
    merchantName: s.merchant?.name ?? '',
    terminalId: s.terminalId,
    terminalTxnId: s.terminalTxnId,
    maskedPan: s.maskedPan,
    items: [...s.items],
    total: s.amount,
    approvalCode: approved ? approvalCode() : '',
    result: approved ? 'approved' : s.cancelled ? 'cancelled' : 'declined',
    declineReason: s.decline ?? '',
    issuedAtMs: s.now,
    kind: 'sale',
    originalTxnId: '',
    atc: s.atc ?? 0,
    offline: s.offline !== undefined,
    lossReason: s.offline?.lossReason ?? '',
  });
  const response: SettleResponse = { approved, declineReason: s.decline ?? '', receipt, replayed: false };
  const batchId = approved ? (await tx.openBatch(s.terminalId, s.now)).id : null;
  const settlementId = await tx.insertSettlement({
    terminalId: s.terminalId,
    terminalTxnId: s.terminalTxnId,
    requestHash: s.requestHash,
    approved,
    declineReason: s.decline,
    amountMinor: s.amount.minor,
    currency: s.amount.currency,
    cardId: s.card?.id ?? null,
    merchantId: s.terminalMerchantId,
    response: encodeProto(SettleResponse, response),
    createdAt: s.now,
    batchId,
  });
  if (approved)
    await tx.insertPostings(
      settlementId,
      salePostings(s.amount, s.card!.accountId, s.merchant!.accountId),
      s.now,
      { batchId: batchId!, adjustmentId: null },
    );
  return { response, settlementId };
}
