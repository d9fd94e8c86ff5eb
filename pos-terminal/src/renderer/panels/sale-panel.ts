/// <reference lib="dom" />
/**
 * The sale being rung up: barcode, search with its results, the lines with their quantities, the
 * total, Charge and Clear, and paying the sale with the shopper's payment code.
 */
import { $, esc, setHtml } from '../dom';
import type { Panel, ViewContext } from '../view-context';

export class SalePanel implements Panel {
  private searchTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    const scan = $<HTMLInputElement>('scan');
    $('scan-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.scan(scan.value.trim());
      scan.value = '';
    });
    const search = $<HTMLInputElement>('search');
    search.addEventListener('input', () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => void this.search(search.value), 80);
    });
    search.addEventListener('keydown', (e) => {
      if (e.key === 'ArrowDown') {
        e.preventDefault();
        ($('results').querySelector('button') as HTMLButtonElement | null)?.focus();
      } else if (e.key === 'Enter') {
        e.preventDefault();
        const first = this.ctx.state.results[0];
        if (first) void this.add(first.sku);
      } else if (e.key === 'Escape') {
        search.value = '';
        this.ctx.state.results = [];
        this.ctx.state.searched = '';
        this.ctx.render();
      }
    });
    $('results').addEventListener('keydown', (e) => {
      const btn = e.target as HTMLElement;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const li = btn.closest('li');
        const next = (
          e.key === 'ArrowDown' ? li?.nextElementSibling : li?.previousElementSibling
        )?.querySelector('button') as HTMLButtonElement | undefined;
        (next ?? (e.key === 'ArrowUp' ? search : null))?.focus();
      } else if (e.key === 'Escape') search.focus();
    });
    $('results').addEventListener('click', (e) => {
      const sku = (e.target as HTMLElement).closest('button')?.dataset.sku;
      if (sku) void this.add(sku);
    });
    $('lines').addEventListener('click', (e) => {
      const b = (e.target as HTMLElement).closest('button');
      if (b?.dataset.remove)
        void this.ctx.call(() => this.ctx.api.invoke('draft:remove', { sku: b.dataset.remove! }));
    });
    $('lines').addEventListener('change', (e) => {
      const input = e.target as HTMLInputElement;
      const sku = input.dataset.sku;
      const line = this.ctx.state.till?.draft.lines.find((l) => l.sku === sku);
      if (!sku || !line) return;
      const quantity = input.value.trim() === '' ? NaN : Number(input.value);
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 999) {
        // The line keeps its quantity; the field shows it again, and the error says what was wrong.
        this.ctx.status(
          'scan-status',
          `Quantity of ${line.name} stays ${line.quantity}: a quantity is a whole number from 1 to 999`,
          true,
        );
        input.value = String(line.quantity);
        return;
      }
      void this.ctx.call(
        () => this.ctx.api.invoke('draft:set-quantity', { sku, quantity }),
        `Quantity of ${line.name}: ${quantity}`,
      );
    });
    $('charge').addEventListener('click', () => void this.charge());
    $('code-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.payWithCode();
    });
    $('clear').addEventListener(
      'click',
      () => void this.ctx.call(() => this.ctx.api.invoke('draft:clear', {})),
    );
  }

  render(): void {
    const { results, till, searched } = this.ctx.state;
    setHtml(
      $('results'),
      searched !== '' && results.length === 0
        ? `<li class="none">No product matches “${esc(searched)}”: try part of the name, or the SKU</li>`
        : results
            .map(
              (p, i) =>
                `<li><button type="button" id="result-${i}" data-sku="${esc(p.sku)}"><span>${esc(p.name)}<span class="sku">${esc(p.sku)}</span></span><span>${esc(p.priceText)}</span></button></li>`,
            )
            .join(''),
    );
    if (!till) return;
    const d = till.draft;
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

  async charge(): Promise<void> {
    const s = this.ctx.state;
    if (!s.till || s.till.draft.lines.length === 0) {
      this.ctx.status('scan-status', 'Add items before charging', true);
      return;
    }
    const b = await this.ctx.call(() => this.ctx.api.invoke('basket:charge', {}));
    if (b) {
      s.charged = { id: b.id, totalText: b.totalText, notice: '' };
      this.followCharged();
      $<HTMLInputElement>('search').value = '';
      s.results = [];
      s.searched = '';
      this.ctx.render();
      $('scan').focus();
    }
  }

  /**
   * The notice of the basket last charged, as it is now: waiting (again, after a phone that did not
   * pay), with a phone, or paid. Left alone once the cashier's next action wrote something else
   * there, and when the basket went otherwise (taken back: that action says so itself).
   */
  followCharged(): void {
    const s = this.ctx.state;
    const c = s.charged;
    if (!c || !s.till) return;
    if (c.notice !== '' && $('scan-status').textContent !== c.notice) {
      s.charged = null;
      return;
    }
    const basket = s.till.baskets.find((b) => b.id === c.id);
    // A basket may have passed through several phones (one declined, the next paying): look at each.
    const phones = s.till.sessions.filter((r) => r.basketId === c.id);
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
      s.charged = null;
      return;
    }
    if (notice !== c.notice) this.ctx.status('scan-status', notice);
    s.charged = paid ? null : { ...c, notice };
  }

  private async scan(barcode: string): Promise<void> {
    if (!/^[0-9]{4,14}$/.test(barcode)) {
      this.ctx.status(
        'scan-status',
        barcode === ''
          ? 'Scan or type a barcode, then Enter'
          : `“${barcode.slice(0, 20)}” is not a barcode: a barcode is 4 to 14 digits`,
        true,
      );
      return;
    }
    const p = await this.ctx.call(() => this.ctx.api.invoke('catalog:scan', { barcode }));
    if (p === undefined) return;
    if (!p) {
      this.ctx.status('scan-status', `No product has barcode ${barcode}`, true);
      return;
    }
    await this.add(p.sku, `Scanned: ${p.name}, ${p.priceText}`);
  }

  private async search(query: string): Promise<void> {
    const s = this.ctx.state;
    if (query.trim() === '') {
      s.results = [];
      s.searched = '';
    } else {
      const found = await this.ctx.call(() => this.ctx.api.invoke('catalog:search', { query, limit: 8 }));
      // An answer to an earlier query that arrives late is dropped.
      if ($<HTMLInputElement>('search').value !== query) return;
      s.results = found ?? [];
      s.searched = found ? query.trim() : '';
    }
    this.ctx.render();
  }

  private async add(sku: string, message?: string): Promise<void> {
    const draft = await this.ctx.call(() => this.ctx.api.invoke('draft:add', { sku }));
    const line = draft?.lines.find((l) => l.sku === sku);
    if (line) this.ctx.status('scan-status', message ?? `Added ${line.name} (${line.quantity})`);
  }

  /**
   * The sale being rung up, paid with the 8-digit code the shopper's phone shows (spaces allowed);
   * with nothing rung up, the basket whose code was just declined, if it is still waiting.
   */
  private async payWithCode(): Promise<void> {
    const s = this.ctx.state;
    const input = $<HTMLInputElement>('pay-code');
    const code = input.value.replace(/\s+/g, '');
    if (!/^[0-9]{8}$/.test(code)) {
      this.ctx.status('code-status', 'A payment code is 8 digits', true);
      input.focus();
      return;
    }
    const waiting = s.till?.baskets.find((b) => b.id === s.codeBasketId && b.status === 'open');
    if (!s.till || (s.till.draft.lines.length === 0 && !waiting)) {
      this.ctx.status('code-status', 'Add items before paying with a code', true);
      return;
    }
    const basketId = s.till.draft.lines.length === 0 ? waiting?.id : undefined;
    this.ctx.status('code-status', 'Checking the code…');
    const res = await this.ctx.call(
      () => this.ctx.api.invoke('basket:pay-code', { code, ...(basketId ? { basketId } : {}) }),
      undefined,
      'code-status',
    );
    if (!res) return;
    input.value = '';
    s.codeBasketId = res.result === 'approved' ? null : res.basketId;
    if (res.result === 'approved') {
      this.ctx.status(
        'code-status',
        `Paid with code: ${res.receipt?.totalText ?? ''}, approval ${res.receipt?.approvalCode ?? ''}`,
      );
      if (res.receipt) {
        s.pinnedReceipt = false;
        this.ctx.showReceipt(res.receipt);
      }
      $('scan').focus();
    } else {
      this.ctx.status(
        'code-status',
        `Code declined: ${res.declineText}. Basket ${res.basketId} is waiting: another code pays it.`,
        true,
      );
      input.focus();
    }
  }
}
