/**
 * The sale being rung up at the counter: its lines (one per product, quantities merged, at most
 * 999 of one), kept in the basket store as it changes (a restart loses none of it), charged into
 * a waiting basket, or given back the items of a basket the cashier takes back. Every refusal is
 * a TillError before anything changes.
 */
import { type Item, type Money } from '@bluetill/protocol';
import type { Basket, BasketBook } from '../basket';
import { TillError } from '../till-error';

/** The most of one product a sale can hold. */
export const MAX_QUANTITY = 999;

/** A product as the sale needs it (the catalog's entry). */
export interface SaleProduct {
  readonly sku: string;
  readonly name: string;
  readonly priceMinor: number;
}

const validQuantity = (q: number): boolean => Number.isInteger(q) && q >= 1 && q <= MAX_QUANTITY;

export class DraftSale {
  private readonly lines = new Map<string, Item>();

  /** `baskets`: where the sale is kept and where it is charged to. */
  constructor(
    private readonly baskets: BasketBook,
    private readonly currency: string,
  ) {
    this.reload();
  }

  /** The lines, in the order they were first rung up. */
  items(): Item[] {
    return [...this.lines.values()].map((l) => ({ ...l }));
  }

  total(): Money {
    return {
      minor: [...this.lines.values()].reduce((n, l) => n + l.quantity * l.unitPriceMinor, 0),
      currency: this.currency,
    };
  }

  get empty(): boolean {
    return this.lines.size === 0;
  }

  /** Adds `quantity` of a product; one already in the sale gains the quantity at the price it was rung up at. */
  add(product: SaleProduct, quantity = 1): Item[] {
    if (!validQuantity(quantity)) throw new TillError('bad_request', `a quantity is 1 to ${MAX_QUANTITY}`);
    const line = this.lines.get(product.sku);
    const total = (line?.quantity ?? 0) + quantity;
    if (total > MAX_QUANTITY) throw new TillError('bad_request', `at most ${MAX_QUANTITY} of one product`);
    this.lines.set(product.sku, {
      sku: product.sku,
      name: product.name,
      unitPriceMinor: line?.unitPriceMinor ?? product.priceMinor,
      quantity: total,
    });
    return this.keep();
  }

  setQuantity(sku: string, quantity: number): Item[] {
    if (!validQuantity(quantity)) throw new TillError('bad_request', `a quantity is 1 to ${MAX_QUANTITY}`);
    const line = this.lines.get(sku);
    if (!line) throw new TillError('not_found', `${sku} is not in the sale`);
    this.lines.set(sku, { ...line, quantity });
    return this.keep();
  }

  remove(sku: string): Item[] {
    if (!this.lines.delete(sku)) throw new TillError('not_found', `${sku} is not in the sale`);
    return this.keep();
  }

  clear(): Item[] {
    this.lines.clear();
    return this.keep();
  }

  /**
   * The sale becomes a waiting basket and the sale is empty again (one write). A phone waiting for
   * a basket takes it at once, unless `toWaitingPhone` is false (it is to be paid with a code).
   */
  charge(toWaitingPhone = true): Basket {
    if (this.empty) throw new TillError('bad_request', 'the sale is empty');
    const basket = this.baskets.add(this.items(), undefined, [], toWaitingPhone);
    this.lines.clear();
    return basket;
  }

  /** A waiting basket taken back: its items join the sale (one write), to change and charge again. */
  takeBack(basketId: string): Basket {
    const taken = this.baskets.takeBack(basketId);
    if (!taken)
      throw new TillError('conflict', `basket ${basketId} is not waiting (a phone has it, or it is paid)`);
    this.reload();
    return taken;
  }

  private reload(): void {
    this.lines.clear();
    for (const l of this.baskets.draft()) this.lines.set(l.sku, l);
  }

  private keep(): Item[] {
    const items = this.items();
    this.baskets.setDraft(items);
    return items;
  }
}
