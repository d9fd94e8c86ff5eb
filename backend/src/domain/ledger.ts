/**
 * Double-entry postings (see backend/README.md, "Ledger"). A sale debits the cardholder's account and credits the merchant's by
 * the same amount, so every settlement's postings, and the whole ledger, sum to zero.
 */
import type { Money } from '@bluetill/protocol';
import type { Posting } from '../ports/backend-store';

export function salePostings(amount: Money, cardholderAccount: string, merchantAccount: string): Posting[] {
  if (!Number.isSafeInteger(amount.minor) || amount.minor <= 0)
    throw new Error('sale amount must be a positive integer');
  const postings = [
    { accountId: cardholderAccount, amountMinor: -amount.minor, currency: amount.currency },
    { accountId: merchantAccount, amountMinor: amount.minor, currency: amount.currency },
  ];
  if (postings.reduce((s, p) => s + p.amountMinor, 0) !== 0) throw new Error('unbalanced postings');
  return postings;
}

/** A refund: the merchant's account is debited and the cardholder's credited by the refund amount. */
export function refundPostings(amount: Money, cardholderAccount: string, merchantAccount: string): Posting[] {
  return salePostings(amount, cardholderAccount, merchantAccount).map((p) => ({
    ...p,
    amountMinor: -p.amountMinor,
  }));
}

/** A void: the exact reversal of the sale's postings, line by line. */
export function reversalPostings(sale: readonly Posting[]): Posting[] {
  const out = sale.map((p) => ({ ...p, amountMinor: -p.amountMinor }));
  if (out.reduce((s, p) => s + p.amountMinor, 0) !== 0) throw new Error('unbalanced postings');
  return out;
}
