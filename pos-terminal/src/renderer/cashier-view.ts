/// <reference lib="dom" />
/**
 * The cashier screen: sale (scan, search, lines, total, charge), phones (one row per session,
 * live; assign a waiting basket), receipt (on screen, print, PDF, reprint, refund, void), the day's
 * history and the end-of-day close with the backend's totals.
 * Talks only through the TillApi.
 */
import { confirmAction } from './confirm-dialog';
import type { TillApi } from '../common/ipc/till-api';
import type { BatchView, ProductView, ReceiptView, SessionRow, TillSnapshot } from '../common/ipc/view-models';
import { $, esc, setHtml } from './dom';
import { parsePrice } from './parse-price';
import { ManagerApproval } from './manager-approval';

const formatMinor = (minor: number) => (minor / 100).toFixed(2);

const ASSIGNABLE: readonly SessionRow['phase'][] = ['connecting', 'card_check', 'authorizing'];
/** Phases in which the till waits on the phone, so the cashier may cancel (PhoneSession.cancelByCashier). */
const CANCELLABLE: readonly SessionRow['phase'][] = ['card_check', 'awaiting_payment'];

export class CashierView {
  private state: TillSnapshot | null = null;
  private results: ProductView[] = [];
  private shownReceipt: ReceiptView | null = null;
  /** The cashier picked a receipt from the history: a new receipt does not replace it. */
  private pinnedReceipt = false;
  /** The basket a payment code was declined for: with no new sale rung up, the next code pays it. */
  private codeBasketId: string | null = null;
  private history: ReceiptView[] = [];
  private connected = true;
  private readonly dismissed = new Set<string>();
  /**
   * The basket the sale panel's notice is about since Charge, and the notice shown: followed as
   * it goes to a phone and is paid, until the cashier does something else there.
   */
  private charged: { id: string; totalText: string; notice: string } | null = null;

  private readonly approval = new ManagerApproval();

  constructor(private readonly api: TillApi) {}

  async start(): Promise<void> {
    this.bind();
    this.api.on('till:changed', (s) => this.update(s));
    this.api.on('receipt:issued', (r) => {
      if (!this.pinnedReceipt) this.showReceipt(r);
      void this.refreshHistory();
    });
    await this.reload();
  }

  async reload(): Promise<void> {
    this.update(await this.api.invoke('till:snapshot', {}));
    await this.refreshHistory();
    if (!this.shownReceipt && this.state?.lastReceipt) this.showReceipt(this.state.lastReceipt);
  }

  setConnected(up: boolean): void {
    this.connected = up;
    if (up) void this.reload().catch(() => undefined);
    else this.renderAlerts();
  }

  private bind(): void {
    const scan = $<HTMLInputElement>('scan');
    $('scan-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.scan(scan.value.trim());
      scan.value = '';
    });
    const search = $<HTMLInputElement>('search');
    let timer: ReturnType<typeof setTimeout> | undefined;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.search(search.value), 80);
    });
    search.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        ($('results').querySelector('button') as HTMLButtonElement | null)?.focus();
      } else if (e.key === 'Enter') {
        e.preventDefault();
        const first = this.results[0];
        if (first) void this.add(first.sku);
      } else if (e.key === 'Escape') {
        search.value = '';
        this.results = [];
        this.renderResults();
      }
    });
    $('results').addEventListener('keydown', (e) => {
      const btn = e.target as HTMLElement;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const li = btn.closest('li');
        const next = (e.key === 'ArrowDown' ? li?.nextElementSibling : li?.previousElementSibling)?.querySelector('button') as HTMLButtonElement | undefined;
        (next ?? (e.key === 'ArrowUp' ? search : null))?.focus();
      } else if (e.key === 'Escape') search.focus();
    });
    $('results').addEventListener('click', (e) => {
      const sku = (e.target as HTMLElement).closest('button')?.dataset.sku;
      if (sku) void this.add(sku);
    });
    $('lines').addEventListener('click', (e) => {
      const b = (e.target as HTMLElement).closest('button');
      if (b?.dataset.remove) void this.call(() => this.api.invoke('draft:remove', { sku: b.dataset.remove! }));
    });
    $('lines').addEventListener('change', (e) => {
      const input = e.target as HTMLInputElement;
      const sku = input.dataset.sku;
      const quantity = Number(input.value);
      if (!sku) return;
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 999) {
        this.status('scan-status', 'Quantity must be a whole number from 1 to 999', true);
        this.renderSale();
        return;
      }
      void this.call(() => this.api.invoke('draft:set-quantity', { sku, quantity }));
    });
    $('charge').addEventListener('click', () => void this.charge());
    $('code-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.payWithCode();
    });
    $('clear').addEventListener('click', () => void this.call(() => this.api.invoke('draft:clear', {})));
    $('sessions').addEventListener('submit', (e) => {
      e.preventDefault();
      const form = e.target as HTMLFormElement;
      const basketId = (form.elements.namedItem('basket') as HTMLSelectElement).value;
      const sessionId = form.dataset.session!;
      if (basketId) void this.call(() => this.api.invoke('basket:assign', { basketId, sessionId }), `Basket ${basketId} goes to this phone`, 'scan-status');
    });
    $('sessions').addEventListener('click', (e) => {
      const id = (e.target as HTMLElement).closest('button')?.dataset.cancelSession;
      if (id) void this.call(() => this.api.invoke('session:cancel', { sessionId: id }), `Phone ${id} cancelled: nothing was charged`, 'scan-status');
    });
    $('baskets').addEventListener('click', (e) => {
      const id = (e.target as HTMLElement).closest('button')?.dataset.cancel;
      if (id) void this.call(() => this.api.invoke('basket:cancel', { basketId: id }), `Basket ${id} taken back`, 'scan-status');
    });
    $('adjust-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.refund();
    });
    $('void').addEventListener('click', () => void this.voidSale());
    $('close-day').addEventListener('click', () => void this.closeDay());
    $('print').addEventListener('click', () => void this.print());
    $('pdf').addEventListener('click', () => void this.pdf());
    $('history-date').addEventListener('change', () => void this.refreshHistory());
    const hs = $<HTMLInputElement>('history-search');
    hs.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => void this.refreshHistory(), 80);
    });
    $('history').addEventListener('click', (e) => {
      const txn = (e.target as HTMLElement).closest('button')?.dataset.txn;
      const r = this.history.find((h) => h.terminalTxnId === txn);
      if (r) {
        this.pinnedReceipt = r.terminalTxnId !== this.state?.lastReceipt?.terminalTxnId;
        this.showReceipt(r);
      }
    });
    $('alerts').addEventListener('click', (e) => {
      const key = (e.target as HTMLElement).closest('button')?.dataset.dismiss;
      if (key) {
        this.dismissed.add(key);
        this.renderAlerts();
      }
    });
    $('product-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.saveProduct(e.target as HTMLFormElement);
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'F2') $('scan').focus();
      else if (e.key === 'F3') $('search').focus();
      else if (e.key === 'F9') void this.charge();
      else if (e.key === 'F7') $('pay-code').focus();
      else if (e.key === 'F8') void this.print();
      else return;
      e.preventDefault();
    });
  }

  private async call<T>(f: () => Promise<T>, ok?: string, where = 'scan-status'): Promise<T | undefined> {
    try {
      const r = await f();
      if (ok) this.status(where, ok);
      return r;
    } catch (error) {
      this.status(where, (error as Error).message, true);
      return undefined;
    }
  }

  private status(id: string, text: string, bad = false): void {
    const el = $(id);
    el.textContent = text;
    el.classList.toggle('bad', bad);
  }

  private async scan(barcode: string): Promise<void> {
    if (!/^[0-9]{4,14}$/.test(barcode)) {
      this.status('scan-status', 'A barcode is 4 to 14 digits', true);
      return;
    }
    const p = await this.call(() => this.api.invoke('catalog:scan', { barcode }));
    if (p === undefined) return;
    if (!p) {
      this.status('scan-status', `No product has barcode ${barcode}`, true);
      return;
    }
    await this.add(p.sku, `Scanned: ${p.name}, ${p.priceText}`);
  }

  private async search(query: string): Promise<void> {
    if (query.trim() === '') {
      this.results = [];
    } else {
      this.results = (await this.call(() => this.api.invoke('catalog:search', { query, limit: 8 }))) ?? [];
    }
    this.renderResults();
  }

  private async add(sku: string, message?: string): Promise<void> {
    const draft = await this.call(() => this.api.invoke('draft:add', { sku }));
    const line = draft?.lines.find((l) => l.sku === sku);
    if (line) this.status('scan-status', message ?? `Added ${line.name} (${line.quantity})`);
  }

  private async charge(): Promise<void> {
    if (!this.state || this.state.draft.lines.length === 0) {
      this.status('scan-status', 'Add items before charging', true);
      return;
    }
    const b = await this.call(() => this.api.invoke('basket:charge', {}));
    if (b) {
      this.charged = { id: b.id, totalText: b.totalText, notice: '' };
      this.followCharged();
      $<HTMLInputElement>('search').value = '';
      this.results = [];
      this.renderResults();
      $('scan').focus();
    }
  }

  /**
   * The sale being rung up, paid with the 8-digit code the shopper's phone shows (spaces allowed);
   * with nothing rung up, the basket whose code was just declined, if it is still waiting.
   */
  private async payWithCode(): Promise<void> {
    const input = $<HTMLInputElement>('pay-code');
    const code = input.value.replace(/\s+/g, '');
    if (!/^[0-9]{8}$/.test(code)) {
      this.status('code-status', 'A payment code is 8 digits', true);
      input.focus();
      return;
    }
    const waiting = this.state?.baskets.find((b) => b.id === this.codeBasketId && b.status === 'open');
    if (!this.state || (this.state.draft.lines.length === 0 && !waiting)) {
      this.status('code-status', 'Add items before paying with a code', true);
      return;
    }
    const basketId = this.state.draft.lines.length === 0 ? waiting?.id : undefined;
    this.status('code-status', 'Checking the code…');
    const res = await this.call(() => this.api.invoke('basket:pay-code', { code, ...(basketId ? { basketId } : {}) }), undefined, 'code-status');
    if (!res) return;
    input.value = '';
    this.codeBasketId = res.result === 'approved' ? null : res.basketId;
    if (res.result === 'approved') {
      this.status('code-status', `Paid with code: ${res.receipt?.totalText ?? ''}, approval ${res.receipt?.approvalCode ?? ''}`);
      if (res.receipt) {
        this.pinnedReceipt = false;
        this.showReceipt(res.receipt);
      }
      $('scan').focus();
    } else {
      this.status('code-status', `Code declined: ${res.declineText}. Basket ${res.basketId} is waiting: another code pays it.`, true);
      input.focus();
    }
  }

  private async print(): Promise<void> {
    const r = this.shownReceipt;
    if (!r) return;
    const res = await this.call(() => this.api.invoke('receipt:print', { terminalTxnId: r.terminalTxnId }), undefined, 'receipt-status');
    if (res) this.status('receipt-status', `Printed ${r.terminalTxnId} (${res.sink})`);
  }

  private async pdf(): Promise<void> {
    const r = this.shownReceipt;
    if (!r) return;
    const res = await this.call(() => this.api.invoke('receipt:pdf', { terminalTxnId: r.terminalTxnId }), undefined, 'receipt-status');
    if (res) this.status('receipt-status', `Saved ${res.path}`);
  }

  private async refund(): Promise<void> {
    const r = this.shownReceipt;
    if (!r || r.kind !== 'sale' || r.result !== 'approved') return;
    const amountMinor = parsePrice($<HTMLInputElement>('refund-amount').value);
    if (amountMinor === null || amountMinor < 1) {
      this.status('receipt-status', 'Refund amount like 5.00', true);
      return;
    }
    if (!(await confirmAction(`Refund ${formatMinor(amountMinor)} of ${r.terminalTxnId} to the card?`, 'Refund'))) return;
    const res = await this.call(
      () => this.approval.run(`Refund ${formatMinor(amountMinor)} of ${r.terminalTxnId}`, (approval) => this.api.invoke('receipt:refund', { terminalTxnId: r.terminalTxnId, amountMinor, ...(approval ? { approval } : {}) })),
      undefined, 'receipt-status',
    );
    if (!res) return;
    if (res.result === 'declined') {
      this.status('receipt-status', `Refund declined: ${res.declineText}`, true);
      return;
    }
    $<HTMLInputElement>('refund-amount').value = '';
    if (res.receipt) this.showReceipt(res.receipt, true);
    this.status('receipt-status', `Refunded ${res.receipt?.totalText ?? ''} of ${r.terminalTxnId} · ${res.refundableLeftText} left`);
    void this.refreshHistory();
  }

  private async voidSale(): Promise<void> {
    const r = this.shownReceipt;
    if (!r || r.kind !== 'sale' || r.result !== 'approved') return;
    if (!(await confirmAction(`Void the sale ${r.terminalTxnId} of ${r.totalText}? The whole payment goes back to the card.`, 'Void'))) return;
    const res = await this.call(
      () => this.approval.run(`Void ${r.totalText} of ${r.terminalTxnId}`, (approval) => this.api.invoke('receipt:void', { terminalTxnId: r.terminalTxnId, ...(approval ? { approval } : {}) })),
      undefined, 'receipt-status',
    );
    if (!res) return;
    if (res.result === 'declined') {
      this.status('receipt-status', `Void declined: ${res.declineText}`, true);
      return;
    }
    if (res.receipt) this.showReceipt(res.receipt, true);
    this.status('receipt-status', `Voided ${r.terminalTxnId}`);
    void this.refreshHistory();
  }

  private async closeDay(): Promise<void> {
    if (!(await confirmAction('Close the day? The batch is closed at the payment network; new sales start the next one.', 'Close the day'))) return;
    const b = await this.call(() => this.approval.run('Close the day', (approval) => this.api.invoke('batch:close', approval ? { approval } : {})), undefined, 'day-status');
    if (!b) return;
    this.renderBatch(b);
    this.status('day-status', `Batch ${b.batchId} closed at ${b.closedAtText}`);
  }

  private renderBatch(b: BatchView): void {
    $('batch-sale-count').textContent = String(b.saleCount);
    $('batch-sales').textContent = b.saleText;
    $('batch-refund-count').textContent = String(b.refundCount);
    $('batch-refunds').textContent = b.refundText;
    $('batch-void-count').textContent = String(b.voidCount);
    $('batch-voids').textContent = b.voidText;
    $('batch-net').textContent = b.netText;
    $('batch').hidden = false;
  }

  private async saveProduct(form: HTMLFormElement): Promise<void> {
    const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
    const priceMinor = parsePrice(v('price'));
    if (priceMinor === null) {
      this.status('product-status', 'Price like 2.49', true);
      return;
    }
    const p = await this.call(() => this.api.invoke('catalog:upsert', { sku: v('sku'), barcode: v('barcode') || null, name: v('name'), priceMinor }), undefined, 'product-status');
    if (p) {
      this.status('product-status', `Saved ${p.name} at ${p.priceText}`);
      form.reset();
    }
  }

  private async refreshHistory(): Promise<void> {
    const query = $<HTMLInputElement>('history-search').value;
    // No day picked: today's receipts, or with words, any day's (the shop's business day, in its zone).
    const date = $<HTMLInputElement>('history-date').value;
    this.history = (await this.call(() => this.api.invoke('receipt:history', { query, limit: 50, ...(date ? { date } : {}) }), undefined, 'receipt-status')) ?? [];
    this.renderHistory();
  }

  private update(s: TillSnapshot): void {
    this.state = s;
    document.title = `bluetill · ${s.counterName}`;
    $('counter').textContent = s.counterName;
    const pill = $('backend');
    pill.className = `pill pill-${s.backend.health}`;
    pill.textContent = s.backend.health === 'reachable' ? 'Payment network: connected' : s.backend.health === 'unreachable' ? 'Payment network: UNREACHABLE' : 'Payment network: checking…';
    pill.title = s.backend.message;
    this.renderSale();
    this.renderPhones();
    this.renderAlerts();
    this.followCharged();
  }

  /**
   * The notice of the basket last charged, as it is now: waiting (again, after a phone that did not
   * pay), with a phone, or paid. Left alone once the cashier's next action wrote something else
   * there, and when the basket went otherwise (taken back: that action says so itself).
   */
  private followCharged(): void {
    const c = this.charged;
    if (!c || !this.state) return;
    if (c.notice !== '' && $('scan-status').textContent !== c.notice) {
      this.charged = null;
      return;
    }
    const basket = this.state.baskets.find((b) => b.id === c.id);
    // A basket may have passed through several phones (one declined, the next paying): look at each.
    const phones = this.state.sessions.filter((r) => r.basketId === c.id);
    const paid = basket?.status === 'paid' || phones.some((r) => r.phase === 'approved');
    // Not in the till's state yet (the charge answered before the state caught up): just charged, so waiting.
    const waiting = !paid && (basket ? basket.status === 'open' : c.notice === '');
    // A paid basket leaves the till's list a moment before its phone's session shows the approval.
    const paying = !basket && phones.some((r) => !r.closed && r.phase === 'paying');
    const notice = paid
      ? `Basket ${c.id} (${c.totalText}) is paid`
      : waiting
        ? `Basket ${c.id} (${c.totalText}) is waiting for the next phone`
        : basket
          ? `Basket ${c.id} (${c.totalText}) is with phone ${basket.sessionId ?? ''}`
          : paying
            ? c.notice
            : null;
    if (notice === null) {
      this.charged = null;
      return;
    }
    if (notice !== c.notice) this.status('scan-status', notice);
    this.charged = paid ? null : { ...c, notice };
  }

  private renderResults(): void {
    setHtml(
      $('results'),
      this.results
        .map((p, i) => `<li><button type="button" id="result-${i}" data-sku="${esc(p.sku)}"><span>${esc(p.name)}<span class="sku">${esc(p.sku)}</span></span><span>${esc(p.priceText)}</span></button></li>`)
        .join(''),
    );
  }

  private renderSale(): void {
    const d = this.state!.draft;
    setHtml(
      $('lines'),
      d.lines.length === 0
        ? '<tr><td colspan="4" class="empty">Scan or search to add items</td></tr>'
        : d.lines
            .map(
              (l) => `<tr><td>${esc(l.name)} <span class="sku">@ ${esc(l.unitPriceText)}</span></td>
        <td class="num"><input type="number" id="qty-${esc(l.sku)}" data-sku="${esc(l.sku)}" min="1" max="999" value="${l.quantity}" aria-label="Quantity of ${esc(l.name)}"></td>
        <td class="num">${esc(l.lineTotalText)}</td>
        <td class="num"><button type="button" data-remove="${esc(l.sku)}" aria-label="Remove ${esc(l.name)}">✕</button></td></tr>`,
            )
            .join(''),
    );
    $('total').textContent = d.totalText;
    ($('charge') as HTMLButtonElement).disabled = d.lines.length === 0;
  }

  private renderPhones(): void {
    const s = this.state!;
    const waiting = s.baskets.filter((b) => b.status === 'open');
    const rows = [...s.sessions].sort((a, b) => Number(a.closed) - Number(b.closed) || b.updatedAt - a.updatedAt);
    setHtml(
      $('sessions'),
      rows
        .map((r) => {
          const assign =
            !r.closed && !r.basketId && ASSIGNABLE.includes(r.phase) && waiting.length > 0
              ? `<form data-session="${esc(r.id)}"><label class="sr-only" for="assign-${esc(r.id)}">Basket for phone ${esc(r.id)}</label>
                 <select id="assign-${esc(r.id)}" name="basket">${waiting.map((b) => `<option value="${esc(b.id)}">${esc(b.id)} · ${esc(b.totalText)}</option>`).join('')}</select>
                 <button type="submit">Assign</button></form>`
              : '';
          const cancel = !r.closed && CANCELLABLE.includes(r.phase) ? `<button type="button" data-cancel-session="${esc(r.id)}" aria-label="Cancel phone ${esc(r.id)}">Cancel</button>` : '';
          return `<li class="session ${esc(r.phase)}${r.closed ? ' closed' : ''}" aria-label="Phone ${esc(r.id)}: ${esc(r.label)}">
            <div class="label">${esc(r.label)}</div>
            <div class="meta">phone ${esc(r.id)}${r.basketId ? ` · basket ${esc(r.basketId)}` : ''}${r.maskedPan ? ` · card ${esc(r.maskedPan)}` : ''}${r.closed ? ' · hung up' : ''}</div>${assign}${cancel}</li>`;
        })
        .join(''),
    );
    setHtml(
      $('baskets'),
      s.baskets
        .map(
          (b) => `<li class="basket"><span class="id">${esc(b.id)}</span><span class="what"><strong>${esc(b.totalText)}</strong> · ${b.lines.reduce((n, l) => n + l.quantity, 0)} item(s)</span>
          <span class="state">${b.status === 'open' ? 'waiting' : `phone ${esc(b.sessionId ?? '')}`}</span>
          ${b.status === 'open' ? `<button type="button" data-cancel="${esc(b.id)}" aria-label="Take back basket ${esc(b.id)}">Take back</button>` : ''}</li>`,
        )
        .join(''),
    );
  }

  private renderAlerts(): void {
    const s = this.state;
    const alerts: string[] = [];
    if (!this.connected) alerts.push('<div class="alert alert-bad">Lost the connection to the till: reconnecting…</div>');
    if (s?.backend.health === 'unreachable') alerts.push(`<div class="alert alert-bad">${esc(s.backend.message)}</div>`);
    for (const m of s?.mismatches ?? []) {
      const key = `m:${m.sessionId}:${m.at}`;
      if (!this.dismissed.has(key))
        alerts.push(`<div class="alert alert-bad">Basket ${esc(m.basketId)}: ${esc(m.message)} <button type="button" data-dismiss="${esc(key)}">Dismiss</button></div>`);
    }
    for (const e of (s?.errors ?? []).filter((x) => x.code === 'printer' || x.code === 'pdf')) {
      const key = `e:${e.code}:${e.at}`;
      if (!this.dismissed.has(key)) alerts.push(`<div class="alert alert-warn">${esc(e.message)} <button type="button" data-dismiss="${esc(key)}">Dismiss</button></div>`);
    }
    setHtml($('alerts'), alerts.join(''));
  }

  private showReceipt(r: ReceiptView, pin = false): void {
    this.shownReceipt = r;
    if (pin) this.pinnedReceipt = true;
    const what = r.kind === 'refund' ? 'REFUND' : r.kind === 'void' ? 'VOID' : 'APPROVED';
    setHtml(
      $('receipt'),
      `<span class="badge ${r.result}">${r.result === 'approved' ? `${what} · ${esc(r.approvalCode)}` : `DECLINED · ${esc(r.declineText)}`}</span>
       <pre aria-label="Receipt ${esc(r.terminalTxnId)}">${esc(r.text)}</pre>`,
    );
    ($('print') as HTMLButtonElement).disabled = false;
    ($('pdf') as HTMLButtonElement).disabled = false;
    const adjustable = r.kind === 'sale' && r.result === 'approved';
    for (const id of ['refund-amount', 'refund', 'void']) ($(id) as HTMLInputElement | HTMLButtonElement).disabled = !adjustable;
    this.renderHistory();
  }

  private renderHistory(): void {
    setHtml(
      $('history'),
      this.history
        .map(
          (r) => `<li><button type="button" data-txn="${esc(r.terminalTxnId)}" aria-current="${r.terminalTxnId === this.shownReceipt?.terminalTxnId}">
          <span>${esc(r.issuedAtText.split(' ').pop() ?? '')}</span><span>${esc(r.maskedPan.slice(-4).padStart(8, '·'))} · ${esc(r.kind === 'sale' ? r.lines.map((l) => l.name).join(', ') : `${r.kind} of ${r.originalTxnId}`)}</span>
          <span class="res-${r.kind === 'sale' ? r.result : r.kind}">${r.kind === 'refund' ? 'refund −' : r.kind === 'void' ? 'void −' : ''}${esc(r.totalText)}${r.result === 'declined' ? ' ✕' : ''}</span></button></li>`,
        )
        .join(''),
    );
  }
}
