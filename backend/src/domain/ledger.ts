/**
 * Double-entry postings. A sale debits the cardholder's account and credits the merchant's by
 * the same amount, so every settlement's postings, and the whole ledger, sum to zero.
 */
import type { Money } from '@bluetill/protocol';
import type { Posting } from '../ports/backend-store';

export function salePostings(amount: Money, cardholderAccount: string, merchantAccount: string): Posting[] {
  if (!Number.isSafeInteger(amount.minor) || amount.minor <= 0) throw new Error('sale amount must be a positive integer');
  const postings = [
    { accountId: cardholderAccount, amountMinor: -amount.minor, currency: amount.currency },
    { accountId: merchantAccount, amountMinor: amount.minor, currency: amount.currency },
  ];
  if (postings.reduce((s, p) => s + p.amountMinor, 0) !== 0) throw new Error('unbalanced postings');
  return postings;
}
