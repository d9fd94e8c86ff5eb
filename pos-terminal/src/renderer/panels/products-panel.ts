/// <reference lib="dom" />
/** Products: the shop's products with their barcodes, and adding one or changing its price. */
import { $, esc, setHtml } from '../dom';
import { parsePrice } from '../parse-price';
import type { Panel, ViewContext } from '../view-context';

/** The catalog's most the products table lists (the API's limit for one search). */
const LISTED = 100;

export class ProductsPanel implements Panel {
  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('product-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.save(e.target as HTMLFormElement);
    });
    $('products')
      .closest('details')
      ?.addEventListener('toggle', (e) => {
        const details = e.target as HTMLDetailsElement;
        if (details.open) void this.load().then(() => details.scrollIntoView({ block: 'nearest' }));
      });
  }

  render(): void {
    setHtml(
      $('products'),
      this.ctx.state.products
        .map(
          (p) =>
            `<tr><td>${p.barcode ? esc(p.barcode) : '<span class="sr-only">no barcode</span>—'}</td><td>${esc(p.name)} <span class="sku">${esc(p.sku)}</span></td><td class="num">${esc(p.priceText)}</td></tr>`,
        )
        .join(''),
    );
  }

  private async load(): Promise<void> {
    this.ctx.state.products =
      (await this.ctx.call(
        () => this.ctx.api.invoke('catalog:search', { query: '', limit: LISTED }),
        undefined,
        'product-status',
      )) ?? [];
    this.render();
  }

  private async save(form: HTMLFormElement): Promise<void> {
    const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
    const priceMinor = parsePrice(v('price'));
    if (priceMinor === null) {
      this.ctx.status('product-status', 'Price like 2.49', true);
      return;
    }
    const p = await this.ctx.call(
      () =>
        this.ctx.api.invoke('catalog:upsert', {
          sku: v('sku'),
          barcode: v('barcode') || null,
          name: v('name'),
          priceMinor,
        }),
      undefined,
      'product-status',
    );
    if (p) {
      this.ctx.status('product-status', `Saved ${p.name} at ${p.priceText}`);
      form.reset();
      await this.load();
    }
  }
}
