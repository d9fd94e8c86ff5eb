import type { Item } from '@bluetill/protocol';

/** A waiting basket as it is kept across restarts: its id and items (the total follows from them). */
export interface StoredBasket {
  readonly id: string;
  readonly items: readonly Item[];
}

/** One change to the kept baskets and sale, written in one transaction. */
export interface BasketChange {
  /** A new waiting basket. */
  readonly put?: StoredBasket;
  /** A basket that is no longer waiting (paid, or taken back). */
  readonly remove?: string;
  /** The highest basket number handed out so far. */
  readonly lastNumber?: number;
  /** The sale being rung up, as it is now. */
  readonly draft?: readonly Item[];
}

/**
 * Where the till keeps its waiting baskets, the sale being rung up and the basket numbering, so a
 * restart loses none of them and never hands out a basket number twice.
 *
 * @example
 *   const { baskets, lastNumber, draft } = store.loadBaskets();
 *   store.writeBaskets({ put: { id: 'B-0003', items }, lastNumber: 3, draft: [] }); // one transaction
 */
export interface BasketStore {
  loadBaskets(): { baskets: StoredBasket[]; lastNumber: number; draft: Item[] };
  writeBaskets(change: BasketChange): void;
}
