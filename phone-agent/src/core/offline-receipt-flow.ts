/**
 * The card company's confirmation of a sale a till approved offline (Shopper.GetOfflineReceipt).
 * The phone keeps, from the till-signed OfflineReceipt, what names the sale (the till's terminal
 * id and the offline id) and what the card company's receipt must say (the total and the card's
 * ATC); later, with the network, it asks the card company directly. The card proves itself over
 * the backend's UN (only its holder is answered), and the answer is checked as every receipt is:
 * signed under the card company's root, of this till, this offline id, this total and ATC, an
 * offline sale. Settled: the shopper paid. The merchant's loss: the card company did not honour
 * it and the shopper owes nothing. Not forwarded yet: ask again later.
 */
import type { KeyObject } from 'node:crypto';
import { verifyReceipt, type Money, type Receipt } from '@bluetill/protocol';
import type { PaymentCard } from '../ports/payment-card';
import type { ShopperBackend } from '../ports/shopper-backend';
import { PhoneError } from './phone-error';
import { readCardOver } from './read-card-over';

/** What the phone keeps of a till-signed offline receipt to ask the card company about the sale. */
export interface OfflineSaleTicket {
  readonly terminalId: string;
  readonly offlineId: string;
  /** The sum on the till's receipt and the card's ATC: the card company's receipt must name them. */
  readonly total?: Money;
  readonly atc?: number;
}

export type ConfirmedOffline =
  | { readonly kind: 'settled'; readonly receipt: Receipt }
  /** Forwarded and not honoured (its reason in `lossReason`): the merchant's loss, nothing owed. */
  | { readonly kind: 'merchant_loss'; readonly receipt: Receipt; readonly lossReason: string }
  /** Forwarded and refused for the till's own sake (terminal or merchant unknown): nothing owed. */
  | { readonly kind: 'declined'; readonly receipt: Receipt; readonly reason: string }
  | { readonly kind: 'not_forwarded' };

export interface ConfirmOfflineOptions {
  readonly backend: ShopperBackend;
  readonly card: PaymentCard;
  readonly trust: { readonly cardCompanyRoot: KeyObject };
  readonly ticket: OfflineSaleTicket;
  readonly now?: () => number;
}

export async function confirmOfflineSale(o: ConfirmOfflineOptions): Promise<ConfirmedOffline> {
  const now = o.now ?? Date.now;
  const t = o.ticket;
  if (!t.terminalId || !t.offlineId)
    throw new PhoneError('protocol', 'the offline receipt does not name the till and the sale');
  const ch = await o.backend.challenge();
  const card = await readCardOver(o.card, ch.unpredictableNumber);
  const res = await o.backend.getOfflineReceipt({
    unpredictableNumber: ch.unpredictableNumber,
    card,
    terminalId: t.terminalId,
    offlineId: t.offlineId,
  });
  if (res.state === 'not_forwarded') return { kind: 'not_forwarded' };
  if (res.state === 'refused')
    throw new PhoneError(
      'outcome_unknown',
      `the payment network did not answer for this sale (${res.declineReason || 'no reason'})`,
    );
  if (!res.receipt)
    throw new PhoneError('outcome_unknown', `the payment network sent no signed receipt (${res.state})`);
  let receipt: Receipt;
  try {
    receipt = verifyReceipt(res.receipt, o.trust.cardCompanyRoot, now());
  } catch (e) {
    throw new PhoneError('receipt_invalid', 'the receipt is not signed by the payment network', { cause: e });
  }
  if (
    !receipt.offline ||
    (receipt.kind !== '' && receipt.kind !== 'sale') ||
    receipt.terminalId !== t.terminalId ||
    receipt.terminalTxnId !== t.offlineId ||
    (t.total && (receipt.total?.minor !== t.total.minor || receipt.total?.currency !== t.total.currency)) ||
    (t.atc !== undefined && receipt.atc !== 0 && receipt.atc !== t.atc)
  )
    throw new PhoneError('receipt_mismatch', 'the signed receipt is of another sale');
  // The signed result decides, never the unsigned state beside it.
  if (receipt.result === 'approved') return { kind: 'settled', receipt };
  if (receipt.result === 'declined' && receipt.declineReason === 'offline_merchant_loss')
    return { kind: 'merchant_loss', receipt, lossReason: receipt.lossReason };
  if (receipt.result === 'declined') return { kind: 'declined', receipt, reason: receipt.declineReason };
  throw new PhoneError(
    'outcome_unknown',
    `the signed receipt states no outcome this phone knows (${receipt.result})`,
  );
}
