/// <reference lib="dom" />
/** The receipt shown (the last one, or one picked from the history): print, PDF, refund, void. */
import { confirmAction } from '../confirm-dialog';
import { $, esc, setHtml } from '../dom';
import { formatMinor } from '../format';
import { parsePrice } from '../parse-price';
import type { Panel, ViewContext } from '../view-context';

export class ReceiptPanel implements Panel {
  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('adjust-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.refund();
    });
    $('void').addEventListener('click', () => void this.voidSale());
    $('print').addEventListener('click', () => void this.print());
    $('pdf').addEventListener('click', () => void this.pdf());
  }

  render(): void {
    const r = this.ctx.state.shownReceipt;
    if (!r) return;
    const what = r.kind === 'refund' ? 'REFUND' : r.kind === 'void' ? 'VOID' : 'APPROVED';
    setHtml(
      $('receipt'),
      `<span class="badge ${r.result}">${r.result === 'approved' ? `${what} · ${esc(r.approvalCode)}` : `DECLINED · ${esc(r.declineText)}`}</span>
       <pre aria-label="Receipt ${esc(r.terminalTxnId)}">${esc(r.text)}</pre>`,
    );
    ($('print') as HTMLButtonElement).disabled = false;
    ($('pdf') as HTMLButtonElement).disabled = false;
    const adjustable = r.kind === 'sale' && r.result === 'approved';
    for (const id of ['refund-amount', 'refund', 'void'])
      ($(id) as HTMLInputElement | HTMLButtonElement).disabled = !adjustable;
  }

  async print(): Promise<void> {
    const r = this.ctx.state.shownReceipt;
    if (!r) return;
    const res = await this.ctx.call(
      () => this.ctx.api.invoke('receipt:print', { terminalTxnId: r.terminalTxnId }),
      undefined,
      'receipt-status',
    );
    if (res)
      this.ctx.status('receipt-status', `Printed ${r.terminalTxnId} (${res.sink})`, false, [r.terminalTxnId]);
  }

  private async pdf(): Promise<void> {
    const r = this.ctx.state.shownReceipt;
    if (!r) return;
    const res = await this.ctx.call(
      () => this.ctx.api.invoke('receipt:pdf', { terminalTxnId: r.terminalTxnId }),
      undefined,
      'receipt-status',
    );
    if (res) this.ctx.status('receipt-status', `Saved ${res.path}`);
  }

  private async refund(): Promise<void> {
    const r = this.ctx.state.shownReceipt;
    if (!r || r.kind !== 'sale' || r.result !== 'approved') return;
    const amountMinor = parsePrice($<HTMLInputElement>('refund-amount').value);
    if (amountMinor === null || amountMinor < 1) {
      this.ctx.status('receipt-status', 'Refund amount like 5.00', true);
      return;
    }
    if (
      !(await confirmAction(
        `Refund ${formatMinor(amountMinor)} of ${r.terminalTxnId} to the card?`,
        'Refund',
      ))
    )
      return;
    const res = await this.ctx.call(
      () =>
        this.ctx.approval.run(`Refund ${formatMinor(amountMinor)} of ${r.terminalTxnId}`, (approval) =>
          this.ctx.api.invoke('receipt:refund', {
            terminalTxnId: r.terminalTxnId,
            amountMinor,
            ...(approval ? { approval } : {}),
          }),
        ),
      undefined,
      'receipt-status',
    );
    if (!res) return;
    if (res.result === 'declined') {
      this.ctx.status('receipt-status', `Refund declined: ${res.declineText}`, true);
      return;
    }
    $<HTMLInputElement>('refund-amount').value = '';
    if (res.receipt) this.ctx.showReceipt(res.receipt, true);
    this.ctx.status(
      'receipt-status',
      `Refunded ${res.receipt?.totalText ?? ''} of ${r.terminalTxnId} · ${res.refundableLeftText} left`,
      false,
      [r.terminalTxnId],
    );
    void this.ctx.refreshHistory();
  }

  private async voidSale(): Promise<void> {
    const r = this.ctx.state.shownReceipt;
    if (!r || r.kind !== 'sale' || r.result !== 'approved') return;
    if (
      !(await confirmAction(
        `Void the sale ${r.terminalTxnId} of ${r.totalText}? The whole payment goes back to the card.`,
        'Void',
      ))
    )
      return;
    const res = await this.ctx.call(
      () =>
        this.ctx.approval.run(`Void ${r.totalText} of ${r.terminalTxnId}`, (approval) =>
          this.ctx.api.invoke('receipt:void', {
            terminalTxnId: r.terminalTxnId,
            ...(approval ? { approval } : {}),
          }),
        ),
      undefined,
      'receipt-status',
    );
    if (!res) return;
    if (res.result === 'declined') {
      this.ctx.status('receipt-status', `Void declined: ${res.declineText}`, true);
      return;
    }
    if (res.receipt) this.ctx.showReceipt(res.receipt, true);
    this.ctx.status('receipt-status', `Voided ${r.terminalTxnId}`, false, [r.terminalTxnId]);
    void this.ctx.refreshHistory();
  }
}
