/** The transaction list as CSV (RFC 4180): masked card numbers only, money in minor units. */
import type { TransactionListRow } from '../ports/backend-store';

export const CSV_HEADER = [
  'created_at',
  'kind',
  'terminal_txn_id',
  'original_txn_id',
  'result',
  'decline_reason',
  'amount_minor',
  'currency',
  'masked_pan',
  'batch_id',
] as const;

const cell = (v: string | number): string => {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** `withTerminal`: a terminal_id column after created_at (a merchant's export spans its tills and merchant cards). */
export function transactionsCsv(
  rows: ReadonlyArray<TransactionListRow & { terminalId?: string }>,
  o: { withTerminal?: boolean } = {},
): string {
  // Defence in depth: the store holds masked numbers only; a longer digit run is refused, never written.
  if (rows.some((r) => /\d{7,}/.test(r.maskedPan)))
    throw new Error('refusing to export an unmasked card number');
  const lines = rows.map((r) =>
    [
      new Date(r.createdAt).toISOString(),
      ...(o.withTerminal ? [r.terminalId ?? ''] : []),
      r.kind,
      r.terminalTxnId,
      r.originalTxnId,
      r.approved ? 'approved' : 'declined',
      r.declineReason,
      r.amountMinor,
      r.currency,
      r.maskedPan,
      r.batchId || '',
    ]
      .map(cell)
      .join(','),
  );
  const header = o.withTerminal ? [CSV_HEADER[0], 'terminal_id', ...CSV_HEADER.slice(1)] : CSV_HEADER;
  return [header.join(','), ...lines].join('\r\n') + '\r\n';
}
