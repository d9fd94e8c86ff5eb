/** The transaction list as CSV (RFC 4180): masked card numbers only, money in minor units. */
import type { TransactionListRow } from '../ports/backend-store';

export const CSV_HEADER = ['created_at', 'kind', 'terminal_txn_id', 'original_txn_id', 'result', 'decline_reason', 'amount_minor', 'currency', 'masked_pan', 'batch_id'] as const;

const cell = (v: string | number): string => {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export function transactionsCsv(rows: readonly TransactionListRow[]): string {
  // Defence in depth: the store holds masked numbers only; a longer digit run is refused, never written.
  if (rows.some((r) => /\d{7,}/.test(r.maskedPan))) throw new Error('refusing to export an unmasked card number');
  const lines = rows.map((r) =>
    [new Date(r.createdAt).toISOString(), r.kind, r.terminalTxnId, r.originalTxnId, r.approved ? 'approved' : 'declined', r.declineReason, r.amountMinor, r.currency, r.maskedPan, r.batchId || '']
      .map(cell)
      .join(','),
  );
  return [CSV_HEADER.join(','), ...lines].join('\r\n') + '\r\n';
}
