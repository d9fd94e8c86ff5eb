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

/** One currency's count and sum of a batch's approved sales, refunds or voids (a GROUP BY currency row). */
export interface BatchGroup {
  readonly n: number;
  readonly s: number;
  readonly c: string;
}

/**
 * A batch's totals from its grouped rows. Amounts in different currencies never add up: a batch
 * holds one (its merchant's), and more than one is an error.
 */
export function batchTotalsOf(
  batchId: number,
  groups: { sales: BatchGroup[]; refunds: BatchGroup[]; voids: BatchGroup[] },
): BatchTotalsRow {
  const currencies = new Set([...groups.sales, ...groups.refunds, ...groups.voids].map((g) => g.c));
  if (currencies.size > 1)
    throw new Error(`batch ${batchId} holds more than one currency: ${[...currencies].sort().join(', ')}`);
  const none: BatchGroup = { n: 0, s: 0, c: '' };
  const [sales, refunds, voids] = [
    groups.sales[0] ?? none,
    groups.refunds[0] ?? none,
    groups.voids[0] ?? none,
  ];
  return {
    currency: [...currencies][0] ?? '',
    saleCount: sales.n,
    saleMinor: sales.s,
    refundCount: refunds.n,
    refundMinor: refunds.s,
    voidCount: voids.n,
    voidMinor: voids.s,
    netMinor: sales.s - refunds.s - voids.s,
  };
}
