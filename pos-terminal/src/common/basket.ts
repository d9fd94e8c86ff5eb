/**
 * Baskets rung up at the till and which phone session each one goes to. The default policy hands
 * the oldest waiting basket to the next phone that asks; the cashier can also assign one by hand.
 */
import { basketTotal, sameItems, type DeclineCode, type Item, type Money } from '@bluetill/protocol';
import type { BasketStore } from './ports/basket-store';

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
  private saleDraft: Item[] = [];

  /**
   * `taken`: ids used before this book existed (the till's journal, across restarts). A basket id
   * names the sale in the journal, so a new basket must never reuse one: its payment would be
   * taken for the earlier sale's. `store`: where waiting baskets, the sale being rung up and the
   * numbering are kept; they come back from it (every basket waiting: no phone has it after a restart).
   */
  constructor(
    private readonly currency: string,
    private readonly taken: (id: string) => boolean = () => false,
    private readonly store: BasketStore | null = null,
  ) {
    if (!store) return;
    const kept = store.loadBaskets();
    this.next = kept.lastNumber + 1;
    this.saleDraft = kept.draft.map((i) => ({ ...i }));
    for (const b of kept.baskets) this.baskets.set(b.id, this.make(b.id, b.items));
  }

  private make(id: string, items: readonly Item[]): Basket {
    return { id, items: items.map((i) => ({ ...i })), total: basketTotal(items, this.currency), state: 'open', sessionId: null, receiptTxnId: null };
  }

  /** A new waiting basket; `draftAfter`: the sale as it is once charged, kept in the same write. */
  add(items: readonly Item[], given?: string, draftAfter?: readonly Item[]): Basket {
    if (items.length === 0) throw new Error('a basket needs at least one item');
    let id = given;
    if (id === undefined) {
      do id = `B-${String(this.next++).padStart(4, '0')}`;
      while (this.baskets.has(id) || this.taken(id));
    }
    if (this.baskets.has(id) || this.taken(id)) throw new Error(`basket ${id} exists`);
    const basket = this.make(id, items);
    this.store?.writeBaskets({ put: { id, items: basket.items }, lastNumber: this.next - 1, ...(draftAfter ? { draft: draftAfter } : {}) });
    this.baskets.set(id, basket);
    if (draftAfter) this.saleDraft = draftAfter.map((i) => ({ ...i }));
    return basket;
  }

  /** The sale being rung up, as last kept. */
  draft(): Item[] {
    return this.saleDraft.map((i) => ({ ...i }));
  }

  /** Keeps the sale being rung up (across restarts too). */
  setDraft(items: readonly Item[]): void {
    this.store?.writeBaskets({ draft: items });
    this.saleDraft = items.map((i) => ({ ...i }));
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

  /**
   * The cashier takes back a basket no phone has taken yet: it stops waiting and its items are
   * merged into the sale being rung up (one write), to change and charge again. The basket, or
   * undefined if it is assigned or paid (nothing changes).
   */
  takeBack(basketId: string): Basket | undefined {
    const b = this.baskets.get(basketId);
    if (!b || b.state !== 'open') return undefined;
    const draft = mergeItems(this.saleDraft, b.items);
    this.store?.writeBaskets({ remove: basketId, draft });
    this.baskets.delete(basketId);
    this.saleDraft = draft;
    return b;
  }

  /** Drops a basket no phone has taken yet, items and all; false if it is assigned or paid. */
  cancel(basketId: string): boolean {
    const b = this.baskets.get(basketId);
    if (!b || b.state !== 'open') return false;
    this.store?.writeBaskets({ remove: basketId });
    return this.baskets.delete(basketId);
  }

  markPaid(basketId: string, txnId: string): void {
    const b = this.baskets.get(basketId);
    if (!b) return;
    if (b.state !== 'paid') this.store?.writeBaskets({ remove: basketId });
    Object.assign(b, { state: 'paid', receiptTxnId: txnId });
  }
}

/** `more` added to `lines`: a product already there gains the quantity (at the price it has in `lines`). */
export function mergeItems(lines: readonly Item[], more: readonly Item[]): Item[] {
  const out = new Map(lines.map((l) => [l.sku, { ...l }]));
  for (const m of more) {
    const l = out.get(m.sku);
    out.set(m.sku, l ? { ...l, quantity: l.quantity + m.quantity } : { ...m });
  }
  return [...out.values()];
}

/** The till's check of what the phone asks to pay against its own basket. */
export function checkAgainstBasket(basket: Basket, total: Money | undefined, items: readonly Item[]): DeclineCode | null {
  if (!total || total.minor !== basket.total.minor || total.currency !== basket.total.currency) return 'amount_mismatch';
  if (!sameItems(items, basket.items)) return 'items_mismatch';
  return null;
}
