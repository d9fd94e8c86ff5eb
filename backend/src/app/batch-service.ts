/**
 * End of day and the transaction list. CloseBatch closes the terminal's open batch (an empty one
 * if nothing happened since the last close) and stores its totals; in the same transaction it
 * checks that the totals reconcile with the ledger: the batch's postings on the merchant's
 * account sum to the net, and all its postings to zero in each currency; a batch holds one
 * currency, its merchant's (amounts in different currencies are never added). A mismatch is a
 * bug: nothing is closed.
 */
import type {
  BatchTotals,
  CloseBatchRequest,
  CloseBatchResponse,
  ListTransactionsRequest,
  ListTransactionsResponse,
} from '@bluetill/protocol';
import type { BackendStore, BatchRow, BatchTotalsRow } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import { RequestError } from './request-error';
import { checkCaller, type Caller } from './caller';

export const MAX_LISTED_TRANSACTIONS = 5_000;

export class BatchReconciliationError extends Error {
  constructor(
    readonly batchId: number,
    message: string,
  ) {
    super(message);
    this.name = 'BatchReconciliationError';
  }
}

export const toBatchTotals = (t: BatchTotalsRow): BatchTotals => ({ ...t });

export class BatchUseCase {
  constructor(
    private readonly store: BackendStore,
    private readonly clock: Clock,
  ) {}

  async closeBatch(req: CloseBatchRequest, caller: Caller): Promise<CloseBatchResponse> {
    checkCaller(req.terminalId, caller);
    return this.store.commit(async (tx): Promise<CloseBatchResponse> => {
      if (req.closeRequestId) {
        const prior = await tx.findBatchByCloseRequest(req.terminalId, req.closeRequestId);
        if (prior) return { ...response(prior), replayed: true };
      }
      const terminal = await tx.findTerminal(req.terminalId);
      const merchant = terminal && (await tx.findMerchant(terminal.merchantId));
      if (!terminal || !merchant) throw new RequestError('not_found', 'no such terminal');
      const now = this.clock.now();
      const batch = await tx.openBatch(req.terminalId, now, 'close');
      let totals: BatchTotalsRow;
      try {
        totals = await tx.computeBatchTotals(batch.id);
      } catch (e) {
        throw new BatchReconciliationError(batch.id, `batch ${batch.id}: ${(e as Error).message}`);
      }
      if (totals.currency !== '' && totals.currency !== merchant.currency)
        throw new BatchReconciliationError(
          batch.id,
          `batch ${batch.id}: totals in ${totals.currency}, merchant accepts ${merchant.currency}`,
        );
      const sums = await tx.batchPostingSums(batch.id, merchant.accountId);
      if (sums.account !== totals.netMinor || sums.all !== 0)
        throw new BatchReconciliationError(
          batch.id,
          `batch ${batch.id}: merchant postings ${sums.account} vs net ${totals.netMinor}, all postings ${sums.all}`,
        );
      await tx.closeBatch(batch.id, totals, now, req.closeRequestId || null);
      return response((await tx.findBatch(batch.id))!);
    });
  }

  async listTransactions(req: ListTransactionsRequest, caller: Caller): Promise<ListTransactionsResponse> {
    checkCaller(req.terminalId, caller);
    const to = req.toMs || this.clock.now() + 1;
    const rows = await this.store.read((tx) =>
      tx.listTransactions(req.terminalId, req.fromMs, to, MAX_LISTED_TRANSACTIONS + 1),
    );
    return {
      transactions: rows.slice(0, MAX_LISTED_TRANSACTIONS).map((r) => ({
        kind: r.kind,
        terminalTxnId: r.terminalTxnId,
        originalTxnId: r.originalTxnId,
        approved: r.approved,
        declineReason: r.declineReason,
        amount: { minor: r.amountMinor, currency: r.currency },
        maskedPan: r.maskedPan,
        batchId: r.batchId,
        createdAtMs: r.createdAt,
      })),
      truncated: rows.length > MAX_LISTED_TRANSACTIONS,
    };
  }
}

function response(b: BatchRow): CloseBatchResponse {
  return {
    batchId: b.id,
    terminalId: b.terminalId,
    openedAtMs: b.openedAt,
    closedAtMs: b.closedAt ?? 0,
    totals: b.totals ? toBatchTotals(b.totals) : undefined,
    replayed: false,
  };
}
