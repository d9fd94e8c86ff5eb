/// <reference lib="dom" />
/**
 * The cashier screen's one view state and what every panel shares: the TillApi, the status lines,
 * and a way to have all panels render the state again. Panels keep no state of their own.
 */
import type { TillApi } from '../common/ipc/till-api';
import type { ProductView, ReceiptView, TillSnapshot } from '../common/ipc/view-models';
import { $ } from './dom';
import { errorText } from './error-words';
import { ManagerApproval } from './manager-approval';

export interface ViewState {
  till: TillSnapshot | null;
  /** The product search's results, and the words they answer ('' when nothing is searched). */
  results: ProductView[];
  searched: string;
  /** The shop's products with their barcodes (the products panel). */
  products: ProductView[];
  shownReceipt: ReceiptView | null;
  /** The cashier picked a receipt from the history: a new receipt does not replace it. */
  pinnedReceipt: boolean;
  /** The basket a payment code was declined for: with no new sale rung up, the next code pays it. */
  codeBasketId: string | null;
  history: ReceiptView[];
  /** The WebSocket to the till is up (always true in Electron). */
  connected: boolean;
  /** Alerts the cashier dismissed, by key. */
  readonly dismissed: Set<string>;
  /**
   * The basket the sale panel's notice is about since Charge, and the notice shown: followed as
   * it goes to a phone and is paid, until the cashier does something else there.
   */
  charged: { id: string; totalText: string; notice: string } | null;
}

export const emptyViewState = (): ViewState => ({
  till: null,
  results: [],
  searched: '',
  products: [],
  shownReceipt: null,
  pinnedReceipt: false,
  codeBasketId: null,
  history: [],
  connected: true,
  dismissed: new Set(),
  charged: null,
});

/** One panel of the screen: wires its controls once, and renders from the view state. */
export interface Panel {
  bind(): void;
  render(): void;
}

export class ViewContext {
  readonly state = emptyViewState();
  readonly approval = new ManagerApproval();
  private panels: readonly Panel[] = [];

  constructor(readonly api: TillApi) {}

  setPanels(panels: readonly Panel[]): void {
    this.panels = panels;
  }

  bindPanels(): void {
    for (const p of this.panels) p.bind();
  }

  /** Every panel renders the state again (unchanged markup is left alone, see setHtml). */
  render(): void {
    for (const p of this.panels) p.render();
  }

  /**
   * A status line's words; each of `whole` (a transaction id, a path) that occurs in them is kept
   * on one line (it breaks only between words, never at its own hyphens).
   */
  status(id: string, text: string, bad = false, whole: readonly string[] = []): void {
    const el = $(id);
    const parts: Array<string | Node> = [];
    let rest = text;
    for (;;) {
      const at = whole
        .filter((w) => w !== '')
        .map((w) => ({ w, i: rest.indexOf(w) }))
        .filter((x) => x.i >= 0)
        .sort((a, b) => a.i - b.i)[0];
      if (!at) break;
      if (at.i > 0) parts.push(rest.slice(0, at.i));
      const span = document.createElement('span');
      span.className = 'txn';
      span.textContent = at.w;
      parts.push(span);
      rest = rest.slice(at.i + at.w.length);
    }
    if (rest) parts.push(rest);
    el.replaceChildren(...parts);
    el.classList.toggle('bad', bad);
  }

  /** Runs one request; a failure is shown in the status line `where` and answers undefined. */
  async call<T>(f: () => Promise<T>, ok?: string, where = 'scan-status'): Promise<T | undefined> {
    try {
      const r = await f();
      if (ok) this.status(where, ok);
      return r;
    } catch (error) {
      this.status(where, errorText(error), true);
      return undefined;
    }
  }

  showReceipt(r: ReceiptView, pin = false): void {
    this.state.shownReceipt = r;
    if (pin) this.state.pinnedReceipt = true;
    this.render();
  }

  async refreshHistory(): Promise<void> {
    const query = $<HTMLInputElement>('history-search').value;
    // No day picked: today's receipts, or with words, any day's (the shop's business day, in its zone).
    const date = $<HTMLInputElement>('history-date').value;
    this.state.history =
      (await this.call(
        () => this.api.invoke('receipt:history', { query, limit: 50, ...(date ? { date } : {}) }),
        undefined,
        'receipt-status',
      )) ?? [];
    this.render();
  }
}
