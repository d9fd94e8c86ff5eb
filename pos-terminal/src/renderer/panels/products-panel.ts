/// <reference lib="dom" />
/** Products: add one or change its price (the catalog is the till's own). */
import { $ } from '../dom';
import { parsePrice } from '../parse-price';
import type { Panel, ViewContext } from '../view-context';

export class ProductsPanel implements Panel {
  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('product-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.save(e.target as HTMLFormElement);
    });
  }

  render(): void {}

  private async save(form: HTMLFormElement): Promise<void> {
    const v = (n: string) => (form.elements.namedItem(n) as HTMLInputElement).value.trim();
    const priceMinor = parsePrice(v('price'));
    if (priceMinor === null) {
      this.ctx.status('product-status', 'Price like 2.49', true);
      return;
    }
    const p = await this.ctx.call(() => this.ctx.api.invoke('catalog:upsert', { sku: v('sku'), barcode: v('barcode') || null, name: v('name'), priceMinor }), undefined, 'product-status');
    if (p) {
      this.ctx.status('product-status', `Saved ${p.name} at ${p.priceText}`);
      form.reset();
    }
  }
}
