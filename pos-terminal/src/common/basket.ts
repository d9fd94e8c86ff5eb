/**
 * Baskets rung up at the till and which phone session each one goes to. The default policy hands
 * the oldest waiting basket to the next phone that asks; the cashier can also assign one by hand.
 */
import { basketTotal, sameItems, type DeclineCode, type Item, type Money } from '@bluetill/protocol';

export type BasketState = 'open' | 'assigned' | 'paid';

export interface Basket {
  readonly id: string;
  readonly items: readonly Item[];
  readonly total: Money;
  state: BasketState;
  sessionId: string | null;
  receiptTxnId: string | null;
}

export class BasketBook {
  private readonly baskets = new Map<string, Basket>();
  private next = 1;

  /**
   * `taken`: ids used before this book existed (the till's journal, across restarts). A basket id
   * names the sale in the journal, so a new basket must never reuse one: its payment would be
   * taken for the earlier sale's.
   */
  constructor(
    private readonly currency: string,
    private readonly taken: (id: string) => boolean = () => false,
  ) {}

  add(items: readonly Item[], given?: string): Basket {
    if (items.length === 0) throw new Error('a basket needs at least one item');
    let id = given;
    if (id === undefined) {
      do id = `B-${String(this.next++).padStart(4, '0')}`;
      while (this.baskets.has(id) || this.taken(id));
    }
    if (this.baskets.has(id) || this.taken(id)) throw new Error(`basket ${id} exists`);
    const basket: Basket = { id, items: items.map((i) => ({ ...i })), total: basketTotal(items, this.currency), state: 'open', sessionId: null, receiptTxnId: null };
    this.baskets.set(id, basket);
    return basket;
  }

  get(id: string): Basket | undefined {
    return this.baskets.get(id);
  }

  list(): Basket[] {
    return [...this.baskets.values()];
  }

  /** Hands a basket to a session: the named one, or the oldest open one. */
  assign(sessionId: string, basketId?: string): Basket | undefined {
    const already = this.list().find((b) => b.sessionId === sessionId && b.state === 'assigned');
    if (already && (!basketId || already.id === basketId)) return already;
    const basket = basketId ? this.baskets.get(basketId) : this.list().find((b) => b.state === 'open');
    if (!basket || basket.state !== 'open') return undefined;
    basket.state = 'assigned';
    basket.sessionId = sessionId;
    return basket;
  }

  /** The session ended without paying: the basket waits for the next phone. */
  release(sessionId: string): void {
    for (const b of this.baskets.values()) if (b.sessionId === sessionId && b.state === 'assigned') Object.assign(b, { state: 'open', sessionId: null });
  }

  /** The cashier takes back a basket no phone has taken yet; false if it is assigned or paid. */
  cancel(basketId: string): boolean {
    const b = this.baskets.get(basketId);
    if (!b || b.state !== 'open') return false;
    return this.baskets.delete(basketId);
  }

  markPaid(basketId: string, txnId: string): void {
    const b = this.baskets.get(basketId);
    if (b) Object.assign(b, { state: 'paid', receiptTxnId: txnId });
  }
}

/** The till's check of what the phone asks to pay against its own basket. */
export function checkAgainstBasket(basket: Basket, total: Money | undefined, items: readonly Item[]): DeclineCode | null {
  if (!total || total.minor !== basket.total.minor || total.currency !== basket.total.currency) return 'amount_mismatch';
  if (!sameItems(items, basket.items)) return 'items_mismatch';
  return null;
}
