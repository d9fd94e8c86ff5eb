import type { BatchRow, BatchTotalsRow } from '../ports/backend-store';

/** A batches row as both stores read it: the totals' columns null while the batch is open. */
export type BatchDbRow = Omit<BatchRow, 'totals'> & { [K in keyof BatchTotalsRow]: BatchTotalsRow[K] | null };

/** The port's BatchRow from a row of `batches` (totals only once closed). */
export const toBatch = (r: BatchDbRow | undefined): BatchRow | undefined =>
  r && {
    id: r.id,
    terminalId: r.terminalId,
    status: r.status,
    openedAt: r.openedAt,
    closedAt: r.closedAt,
    closeRequestId: r.closeRequestId,
    totals:
      r.status === 'closed'
        ? {
            currency: r.currency ?? '',
            saleCount: r.saleCount!,
            saleMinor: r.saleMinor!,
            refundCount: r.refundCount!,
            refundMinor: r.refundMinor!,
            voidCount: r.voidCount!,
            voidMinor: r.voidMinor!,
            netMinor: r.netMinor!,
          }
        : null,
  };
