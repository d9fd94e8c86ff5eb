/**
 * Refunds and voids of approved sales. Each runs in one SQLite transaction: look up an earlier
 * result (a retry returns it unchanged), check the rules, store the result, post balanced ledger
 * entries in the terminal's open batch.
 *   refund: exactly once per (terminal, refund_txn_id); the same id with other content is
 *           ALREADY_EXISTS. Declines are stored too, so a retry gets the same answer.
 *   void:   at most one per sale; a retry of an approved void returns it (replayed). A declined
 *           void is not stored (nothing happened; it may be asked again).
 */
import { requestHash } from './request-hash';
import {
  RefundRequest,
  RefundResponse,
  VoidRequest,
  VoidResponse,
  type DeclineCode,
  type Receipt,
} from '@bluetill/protocol';
import type { BackendStore, MerchantRow, SettlementRow, StoreTx, TerminalRow } from '../ports/backend-store';
import type { Clock } from '../ports/clock';
import type { KeyStore } from '../ports/key-store';
import { checkRefund, checkVoid } from '../domain/rules';
import { refundPostings, reversalPostings } from '../domain/ledger';
import { replayOf } from './exactly-once';
import { checkCaller, type Caller } from './caller';
import { approvalCode, signReceipt } from './receipt-signer';

export interface AdjustmentEvents {
  onAdjusted?(outcome: {
    kind: 'refund' | 'void';
    approved: boolean;
    decline: DeclineCode | null;
    replayed: boolean;
  }): void;
}

export class AdjustmentUseCase {
  constructor(
    private readonly store: BackendStore,
    private readonly keys: KeyStore,
    private readonly clock: Clock,
    private readonly events: AdjustmentEvents = {},
  ) {}

  async refund(req: RefundRequest, caller: Caller): Promise<RefundResponse> {
    checkCaller(req.terminalId, caller);
    const hash = requestHash(RefundRequest.encode(req).finish());
    const amount = req.amount!;
    const res = await this.store.commit(async (tx): Promise<RefundResponse> => {
      const replay = replayOf(
        await tx.findAdjustment(req.terminalId, 'refund', req.refundTxnId),
        hash,
        (b) => RefundResponse.decode(b),
        'refund id',
      );
      if (replay) return replay;
      const now = this.clock.now();
      const { terminal, merchant } = await terminalAndMerchant(tx, req.terminalId);
      const sale = await tx.findSettlement(req.terminalId, req.terminalTxnId);
      // The card row is the sale's lock (on a store with many writers): the refunds and the void
      // of one sale are decided one after the other, each on what the others stored.
      const card = sale?.cardId ? await tx.findCardById(sale.cardId) : undefined;
      const saleVoided = sale
        ? (await tx.findAdjustment(req.terminalId, 'void', sale.terminalTxnId))?.approved === true
        : false;
      const refundedMinor = sale?.id !== undefined ? await tx.refundedMinor(sale.id) : 0;
      const decline = checkRefund({ terminal, merchant, sale, saleVoided, refundedMinor, amount });
      const approved = decline === null;
      const batchId = approved ? (await tx.openBatch(req.terminalId, now)).id : null;
      const receipt = signReceipt(
        this.keys,
        this.receipt({
          kind: 'refund',
          receiptId: `RF-${req.terminalId}-${req.refundTxnId}`,
          terminal,
          merchant,
          terminalId: req.terminalId,
          terminalTxnId: req.refundTxnId,
          originalTxnId: req.terminalTxnId,
          maskedPan: card?.panMasked ?? '',
          amountMinor: amount.minor,
          currency: amount.currency,
          decline,
          now,
        }),
      );
      const left =
        sale?.approved && !saleVoided ? sale.amountMinor - refundedMinor - (approved ? amount.minor : 0) : 0;
      const result: RefundResponse = {
        approved,
        declineReason: decline ?? '',
        receipt,
        replayed: false,
        refundableLeft: { minor: left, currency: sale?.currency ?? amount.currency },
      };
      const adjustmentId = await tx.insertAdjustment({
        kind: 'refund',
        terminalId: req.terminalId,
        opTxnId: req.refundTxnId,
        originalTxnId: req.terminalTxnId,
        settlementId: sale?.id ?? null,
        batchId,
        requestHash: hash,
        approved,
        declineReason: decline,
        amountMinor: amount.minor,
        currency: amount.currency,
        response: RefundResponse.encode(result).finish(),
        createdAt: now,
      });
      if (approved)
        await tx.insertPostings(
          sale!.id!,
          refundPostings(amount, card!.accountId, merchant!.accountId),
          now,
          { batchId: batchId!, adjustmentId },
        );
      return result;
    });
    this.events.onAdjusted?.({
      kind: 'refund',
      approved: res.approved,
      decline: (res.declineReason || null) as DeclineCode | null,
      replayed: res.replayed,
    });
    return res;
  }

  async void(req: VoidRequest, caller: Caller): Promise<VoidResponse> {
    checkCaller(req.terminalId, caller);
    const hash = requestHash(VoidRequest.encode(req).finish());
    const res = await this.store.commit(async (tx): Promise<VoidResponse> => {
      const sale = await tx.findSettlement(req.terminalId, req.terminalTxnId);
      // The card row first (the sale's lock, as in refund; a void at the same moment waits here
      // and then finds this one's row), then the open batch (held against a close).
      const card = sale?.cardId ? await tx.findCardById(sale.cardId) : undefined;
      const prior = await tx.findAdjustment(req.terminalId, 'void', req.terminalTxnId);
      if (prior?.approved) return { ...VoidResponse.decode(prior.response), replayed: true };
      const now = this.clock.now();
      const { terminal, merchant } = await terminalAndMerchant(tx, req.terminalId);
      const refundedMinor = sale?.id !== undefined ? await tx.refundedMinor(sale.id) : 0;
      const openBatchId = (await tx.findOpenBatch(req.terminalId))?.id ?? null;
      const decline = checkVoid({ terminal, merchant, sale, refundedMinor, openBatchId });
      const approved = decline === null;
      const receipt = signReceipt(
        this.keys,
        this.receipt({
          kind: 'void',
          receiptId: `VD-${req.terminalId}-${req.terminalTxnId}`,
          terminal,
          merchant,
          terminalId: req.terminalId,
          terminalTxnId: `${req.terminalTxnId}.void`,
          originalTxnId: req.terminalTxnId,
          maskedPan: card?.panMasked ?? '',
          amountMinor: sale?.amountMinor ?? 0,
          currency: sale?.currency ?? '',
          decline,
          now,
        }),
      );
      const result: VoidResponse = { approved, declineReason: decline ?? '', receipt, replayed: false };
      if (!approved) return result;
      const s = sale as SettlementRow & { id: number };
      const adjustmentId = await tx.insertAdjustment({
        kind: 'void',
        terminalId: req.terminalId,
        opTxnId: req.terminalTxnId,
        originalTxnId: req.terminalTxnId,
        settlementId: s.id,
        batchId: openBatchId,
        requestHash: hash,
        approved,
        declineReason: null,
        amountMinor: s.amountMinor,
        currency: s.currency,
        response: VoidResponse.encode(result).finish(),
        createdAt: now,
      });
      await tx.insertPostings(s.id, reversalPostings(await tx.salePostingsOf(s.id)), now, {
        batchId: openBatchId!,
        adjustmentId,
      });
      return result;
    });
    this.events.onAdjusted?.({
      kind: 'void',
      approved: res.approved,
      decline: (res.declineReason || null) as DeclineCode | null,
      replayed: res.replayed,
    });
    return res;
  }

  private receipt(r: {
    kind: 'refund' | 'void';
    receiptId: string;
    terminal: TerminalRow | undefined;
    merchant: MerchantRow | undefined;
    terminalId: string;
    terminalTxnId: string;
    originalTxnId: string;
    maskedPan: string;
    amountMinor: number;
    currency: string;
    decline: DeclineCode | null;
    now: number;
  }): Receipt {
    return {
      receiptId: r.receiptId,
      merchantId: r.merchant?.id ?? r.terminal?.merchantId ?? '',
      merchantName: r.merchant?.name ?? '',
      terminalId: r.terminalId,
      terminalTxnId: r.terminalTxnId,
      maskedPan: r.maskedPan,
      items: [],
      total: { minor: r.amountMinor, currency: r.currency },
      approvalCode: r.decline ? '' : approvalCode(),
      result: r.decline ? 'declined' : 'approved',
      declineReason: r.decline ?? '',
      issuedAtMs: r.now,
      kind: r.kind,
      originalTxnId: r.originalTxnId,
      atc: 0,
      offline: false,
      lossReason: '',
    };
  }
}

async function terminalAndMerchant(
  tx: StoreTx,
  terminalId: string,
): Promise<{ terminal: TerminalRow | undefined; merchant: MerchantRow | undefined }> {
  const terminal = await tx.findTerminal(terminalId);
  return { terminal, merchant: terminal && (await tx.findMerchant(terminal.merchantId)) };
}
