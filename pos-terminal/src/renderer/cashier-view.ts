/// <reference lib="dom" />
/**
 * The cashier screen: one component per panel (panels/) over one view state (view-context.ts).
 * This file composes them, follows the till's events and binds the function keys.
 * Talks only through the TillApi.
 */
import type { TillApi } from '../common/ipc/till-api';
import type { TillSnapshot } from '../common/ipc/view-models';
import { $ } from './dom';
import { BasketsPanel } from './panels/baskets-panel';
import { DayPanel } from './panels/day-panel';
import { HistoryPanel } from './panels/history-panel';
import { PhonesPanel } from './panels/phones-panel';
import { ProductsPanel } from './panels/products-panel';
import { ReceiptPanel } from './panels/receipt-panel';
import { SalePanel } from './panels/sale-panel';
import { TopBar } from './panels/top-bar';
import { ViewContext } from './view-context';

export class CashierView {
  private readonly ctx: ViewContext;
  private readonly sale: SalePanel;
  private readonly receipt: ReceiptPanel;

  constructor(api: TillApi) {
    this.ctx = new ViewContext(api);
    this.sale = new SalePanel(this.ctx);
    this.receipt = new ReceiptPanel(this.ctx);
    this.ctx.setPanels([
      new TopBar(this.ctx),
      this.sale,
      new ProductsPanel(this.ctx),
      new PhonesPanel(this.ctx),
      new BasketsPanel(this.ctx),
      this.receipt,
      new HistoryPanel(this.ctx),
      new DayPanel(this.ctx),
    ]);
  }

  async start(): Promise<void> {
    this.bind();
    const { api, state } = this.ctx;
    api.on('till:changed', (s) => this.update(s));
    api.on('receipt:issued', (r) => {
      if (!state.pinnedReceipt) this.ctx.showReceipt(r);
      void this.ctx.refreshHistory();
    });
    await this.reload();
  }

  async reload(): Promise<void> {
    this.update(await this.ctx.api.invoke('till:snapshot', {}));
    await this.ctx.refreshHistory();
    const { state } = this.ctx;
    if (!state.shownReceipt && state.till?.lastReceipt) this.ctx.showReceipt(state.till.lastReceipt);
  }

  setConnected(up: boolean): void {
    this.ctx.state.connected = up;
    if (up) void this.reload().catch(() => undefined);
    else this.ctx.render();
  }

  private bind(): void {
    this.ctx.bindPanels();
    document.addEventListener('keydown', (e) => {
      if (e.key === 'F2') $('scan').focus();
      else if (e.key === 'F3') $('search').focus();
      else if (e.key === 'F9') void this.sale.charge();
      else if (e.key === 'F7') {
        // A fresh code each time: what an earlier entry left in the field is cleared.
        $<HTMLInputElement>('pay-code').value = '';
        $('pay-code').focus();
      } else if (e.key === 'F8') void this.receipt.print();
      else return;
      e.preventDefault();
    });
  }

  private update(s: TillSnapshot): void {
    this.ctx.state.till = s;
    this.ctx.render();
    this.sale.followCharged();
  }
}
