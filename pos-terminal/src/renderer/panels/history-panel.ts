/// <reference lib="dom" />
/** The day's receipts (or another day's, or any day's matching words); a click shows one. */
import type { ReceiptView } from '../../common/ipc/view-models';
import { $, esc, setHtml } from '../dom';
import type { Panel, ViewContext } from '../view-context';

export class HistoryPanel implements Panel {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('history-date').addEventListener('change', () => void this.ctx.refreshHistory());
    $('history-search').addEventListener('input', () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.ctx.refreshHistory(), 80);
    });
    $('history').addEventListener('click', (e) => {
      const s = this.ctx.state;
      const txn = (e.target as HTMLElement).closest('button')?.dataset.txn;
      const r = s.history.find((h) => h.terminalTxnId === txn);
      if (r) {
        s.pinnedReceipt = r.terminalTxnId !== s.till?.lastReceipt?.terminalTxnId;
        this.ctx.showReceipt(r);
      }
    });
  }

  render(): void {
    const { history, shownReceipt } = this.ctx.state;
    const items = (r: ReceiptView) => r.lines.map((l) => l.name).join(', ');
    // A refund or void names the sale it gave money back on: its items when that sale is listed, else its id.
    const of = (r: ReceiptView) => {
      const sale = history.find((h) => h.kind === 'sale' && h.terminalTxnId === r.originalTxnId);
      return sale && sale.lines.length > 0 ? items(sale) : `sale ${r.originalTxnId}`;
    };
    setHtml(
      $('history'),
      history
        .map(
          (
            r,
          ) => `<li><button type="button" data-txn="${esc(r.terminalTxnId)}" aria-current="${r.terminalTxnId === shownReceipt?.terminalTxnId}">
          <span class="when">${esc(r.issuedAtText.split(' ').pop() ?? '')}</span><span class="what">${esc(r.maskedPan.slice(-4).padStart(8, '·'))} · ${esc(r.kind === 'sale' ? items(r) : `${r.kind} of ${of(r)}`)}</span>
          <span class="amount res-${r.kind === 'sale' ? r.result : r.kind}">${r.kind === 'sale' ? '' : '−'}${esc(r.totalText)}${r.result === 'declined' ? ' <span aria-hidden="true">✕</span><span class="sr-only">declined</span>' : ''}</span></button></li>`,
        )
        .join(''),
    );
  }
}
