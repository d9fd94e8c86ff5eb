/**
 * The last step of every sale, whoever asked for it (a till's Settle, a till's SettleWithCode, a
 * phone's PayMerchant): sign the receipt, store the result under (terminal, transaction id) with
 * the request's hash, and for an approved sale open the terminal's batch and post the balanced
 * ledger pair. Runs inside the caller's transaction, so the result and its postings commit
 * together or not at all.
 */
import { SettleResponse, encodeProto, type DeclineCode, type Item, type Money } from '@bluetill/protocol';
import type {
  BatchStore,
  MerchantRow,
  Posting,
  SettlementRow,
  SettlementStore,
} from '../ports/backend-store';
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

/** A sale's result as it is stored: the answer, its settlement row (without its batch) and its postings. */
export interface SaleRecord {
  readonly response: SettleResponse;
  readonly settlement: Omit<SettlementRow, 'id' | 'batchId'>;
  /** The balanced pair of an approved sale; none when declined. */
  readonly postings: readonly Posting[];
}

/** Signs the receipt and makes the rows of a sale's result (no store: see writeSale). */
export function saleRecord(keys: KeyStore, s: SaleToRecord): SaleRecord {
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
  return {
    response,
    settlement: {
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
    },
    postings: approved ? salePostings(s.amount, s.card!.accountId, s.merchant!.accountId) : [],
  };
}

/** Stores a sale's result: an approved one in the terminal's open batch (opened when none is), with its postings. Returns the settlement's id. */
export async function writeSale(
  tx: SettlementStore & BatchStore,
  r: Pick<SaleRecord, 'settlement' | 'postings'>,
): Promise<number> {
  const { settlement } = r;
  const batchId = settlement.approved
    ? (await tx.openBatch(settlement.terminalId, settlement.createdAt)).id
    : null;
  const settlementId = await tx.insertSettlement({ ...settlement, batchId });
  if (r.postings.length > 0)
    await tx.insertPostings(settlementId, r.postings, settlement.createdAt, {
      batchId: batchId!,
      adjustmentId: null,
    });
  return settlementId;
}

/** saleRecord, then writeSale in the caller's transaction. */
export async function recordSale(
  tx: SettlementStore & BatchStore,
  keys: KeyStore,
  s: SaleToRecord,
): Promise<{ response: SettleResponse; settlementId: number }> {
  const record = saleRecord(keys, s);
  return { response: record.response, settlementId: await writeSale(tx, record) };
}
