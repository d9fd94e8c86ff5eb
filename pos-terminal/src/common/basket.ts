/**
 * Baskets rung up at the till and who holds each one. The default policy hands the oldest
 * waiting basket to the next phone whose card has authenticated; the cashier can also assign one
 * by hand, or hold one for a payment code. A basket's life is a transition table: every change
 * not in it is refused (a bug, thrown).
 *
 * ```mermaid
 * stateDiagram-v2
 *   [*] --> open: charged (the sale rung up)
 *   open --> assigned: a phone's card authenticated / the cashier assigned it
 *   open --> held_for_code: the cashier keyed in a payment code
 *   open --> released: taken back into the sale / cancelled
 *   open --> paid: an unknown outcome found approved by asking
 *   assigned --> open: the phone's session ended without paying
 *   assigned --> paid: settled, approved
 *   held_for_code --> open: the code's payment declined or never reached the network
 *   held_for_code --> paid: settled, approved
 * ```
 */
import { basketTotal, sameItems, type DeclineCode, type Item, type Money } from '@bluetill/protocol';
import type { BasketStore } from './ports/basket-store';

/** open: waiting; assigned: with a phone; held_for_code: with a payment code; paid; released: taken back or cancelled. */
export type BasketState = 'open' | 'assigned' | 'held_for_code' | 'paid' | 'released';

/** Who has a basket: a phone's session, or a payment code's settlement attempt. */
export type BasketHolder =
  { readonly kind: 'phone'; readonly sessionId: string } | { readonly kind: 'code'; readonly txnId: string };

const TRANSITIONS: Readonly<Record<BasketState, readonly BasketState[]>> = {
  open: ['assigned', 'held_for_code', 'released', 'paid'],
  assigned: ['open', 'paid'],
  held_for_code: ['open', 'paid'],
  paid: [],
  released: [],
};

export class BasketTransitionError extends Error {
  readonly code = 'basket_transition';
  constructor(
    readonly basketId: string,
    readonly from: BasketState,
    readonly to: BasketState,
  ) {
    super(`basket ${basketId} cannot go from ${from} to ${to}`);
    this.name = 'BasketTransitionError';
  }
}

export function checkBasketTransition(basketId: string, from: BasketState, to: BasketState): void {
  if (!TRANSITIONS[from].includes(to)) throw new BasketTransitionError(basketId, from, to);
}

export interface Basket {
  readonly id: string;
  readonly items: readonly Item[];
  readonly total: Money;
  readonly state: BasketState;
  readonly holder: BasketHolder | null;
  /** The phone session holding it (holder kind 'phone'), else null. */
  readonly sessionId: string | null;
  readonly receiptTxnId: string | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A phone's session waiting for a basket (BasketBook.wait). */
interface BasketWaiter {
  readonly sessionId: string;
  readonly give: (basket: Basket) => void;
}

export class BasketBook {
  private readonly baskets = new Map<string, Mutable<Basket>>();
  private next = 1;
  private saleDraft: Item[] = [];
  /** Phones whose card is authorized and for which no basket was waiting, in the order they came. */
  private readonly waiters: BasketWaiter[] = [];

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

  private make(id: string, items: readonly Item[]): Mutable<Basket> {
    return {
      id,
      items: items.map((i) => ({ ...i })),
      total: basketTotal(items, this.currency),
      state: 'open',
      holder: null,
      sessionId: null,
      receiptTxnId: null,
    };
  }

  /** The one place a basket changes state: checked against the table. */
  private move(b: Mutable<Basket>, to: BasketState, holder: BasketHolder | null): void {
    checkBasketTransition(b.id, b.state, to);
    b.state = to;
    b.holder = holder;
    b.sessionId = holder?.kind === 'phone' ? holder.sessionId : null;
  }

  /**
   * A new waiting basket; `draftAfter`: the sale as it is once charged, kept in the same write. It
   * goes at once to a phone waiting for one, unless `toWaitingPhone` is false (the cashier charges
   * it to hold it for a payment code in the same turn).
   */
  add(items: readonly Item[], given?: string, draftAfter?: readonly Item[], toWaitingPhone = true): Basket {
    if (items.length === 0) throw new Error('a basket needs at least one item');
    let id = given;
    if (id === undefined) {
      do id = `B-${String(this.next++).padStart(4, '0')}`;
      while (this.baskets.has(id) || this.taken(id));
    }
    if (this.baskets.has(id) || this.taken(id)) throw new Error(`basket ${id} exists`);
    const basket = this.make(id, items);
    this.store?.writeBaskets({
      put: { id, items: basket.items },
      lastNumber: this.next - 1,
      ...(draftAfter ? { draft: draftAfter } : {}),
    });
    this.baskets.set(id, basket);
    if (draftAfter) this.saleDraft = draftAfter.map((i) => ({ ...i }));
    if (toWaitingPhone) this.serveWaiters();
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

  /** Hands a basket to a phone's session: the named one, or the oldest open one. */
  assign(sessionId: string, basketId?: string): Basket | undefined {
    const already = this.list().find((b) => b.sessionId === sessionId && b.state === 'assigned');
    if (already && (!basketId || already.id === basketId)) return already;
    const basket = basketId
      ? this.baskets.get(basketId)
      : [...this.baskets.values()].find((b) => b.state === 'open');
    if (!basket || basket.state !== 'open') return undefined;
    this.move(basket, 'assigned', { kind: 'phone', sessionId });
    // The cashier gave this basket to a phone that was waiting for one: it is served now.
    const i = this.waiters.findIndex((w) => w.sessionId === sessionId);
    if (i >= 0) this.waiters.splice(i, 1)[0]!.give(basket);
    return basket;
  }

  /**
   * A phone's session waits for a basket (its card is authorized and none is waiting): `give` is
   * called with the basket, already assigned to it, as soon as one waits — phones are served in
   * the order they began to wait. `stopWaiting` (or `release`) takes the phone out of the line.
   */
  wait(sessionId: string, give: (basket: Basket) => void): void {
    if (this.waiters.some((w) => w.sessionId === sessionId))
      throw new Error(`phone ${sessionId} already waits`);
    this.waiters.push({ sessionId, give });
    this.serveWaiters();
  }

  /** The phone no longer waits for a basket (it gave up, was cancelled or left). */
  stopWaiting(sessionId: string): void {
    const i = this.waiters.findIndex((w) => w.sessionId === sessionId);
    if (i >= 0) this.waiters.splice(i, 1);
  }

  /** The phones waiting for a basket, in the order they will be served. */
  waitingPhones(): string[] {
    return this.waiters.map((w) => w.sessionId);
  }

  /** Each waiting basket to the phone that has waited longest. */
  serveWaiters(): void {
    for (;;) {
      const waiter = this.waiters[0];
      if (!waiter) return;
      const basket = [...this.baskets.values()].find((b) => b.state === 'open');
      if (!basket) return;
      this.waiters.shift();
      this.move(basket, 'assigned', { kind: 'phone', sessionId: waiter.sessionId });
      waiter.give(basket);
    }
  }

  /** Holds a waiting basket for a payment code's settlement attempt `txnId` (no phone can take it meanwhile). */
  holdForCode(basketId: string, txnId: string): Basket | undefined {
    const basket = this.baskets.get(basketId);
    if (!basket || basket.state !== 'open') return undefined;
    this.move(basket, 'held_for_code', { kind: 'code', txnId });
    return basket;
  }

  /** The phone's session ended without paying: its basket waits for the next phone. */
  release(sessionId: string): void {
    this.stopWaiting(sessionId);
    for (const b of this.baskets.values())
      if (b.state === 'assigned' && b.sessionId === sessionId) this.move(b, 'open', null);
    this.serveWaiters();
  }

  /** The payment code's attempt `txnId` did not pay: the basket it held waits again. */
  releaseCode(txnId: string): void {
    for (const b of this.baskets.values())
      if (b.state === 'held_for_code' && b.holder?.kind === 'code' && b.holder.txnId === txnId)
        this.move(b, 'open', null);
    this.serveWaiters();
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
    this.move(b, 'released', null);
    this.baskets.delete(basketId);
    this.saleDraft = draft;
    return b;
  }

  /** Drops a basket no phone has taken yet, items and all; false if it is assigned or paid. */
  cancel(basketId: string): boolean {
    const b = this.baskets.get(basketId);
    if (!b || b.state !== 'open') return false;
    this.store?.writeBaskets({ remove: basketId });
    this.move(b, 'released', null);
    return this.baskets.delete(basketId);
  }

  /** The basket's payment `txnId` was approved (a second word of it changes nothing). */
  markPaid(basketId: string, txnId: string): void {
    const b = this.baskets.get(basketId);
    if (!b || b.state === 'paid') return;
    this.store?.writeBaskets({ remove: basketId });
    this.move(b, 'paid', b.holder);
    b.receiptTxnId = txnId;
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
export function checkAgainstBasket(
  basket: Basket,
  total: Money | undefined,
  items: readonly Item[],
): DeclineCode | null {
  if (!total || total.minor !== basket.total.minor || total.currency !== basket.total.currency)
    return 'amount_mismatch';
  if (!sameItems(items, basket.items)) return 'items_mismatch';
  return null;
}
