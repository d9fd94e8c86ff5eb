import { describe, expect, it } from 'vitest';
import type { Item } from '@bluetill/protocol';
import { BasketBook } from '../basket';
import type { BasketChange, BasketStore } from '../ports/basket-store';
import { DraftSale, MAX_QUANTITY } from './draft-sale';

const tea = { sku: 'tea', name: 'Green tea', priceMinor: 350 };
const cake = { sku: 'cake', name: 'Cake', priceMinor: 420 };

/** A basket store in memory that records each write (one per change). */
function memoryStore(draft: Item[] = []): BasketStore & { writes: BasketChange[] } {
  const writes: BasketChange[] = [];
  return {
    writes,
    loadBaskets: () => ({ baskets: [], lastNumber: 0, draft }),
    writeBaskets: (c) => void writes.push(c),
  };
}

describe('DraftSale', () => {
  it('merges a product rung up twice into one line at the price it was first rung up at, and keeps each change', () => {
    const store = memoryStore();
    const sale = new DraftSale(new BasketBook('EUR', () => false, store), 'EUR');
    sale.add(tea);
    sale.add(cake, 2);
    sale.add({ ...tea, priceMinor: 999 }, 3); // a price changed meanwhile: the line keeps its price
    expect(sale.items()).toEqual([
      { sku: 'tea', name: 'Green tea', unitPriceMinor: 350, quantity: 4 },
      { sku: 'cake', name: 'Cake', unitPriceMinor: 420, quantity: 2 },
    ]);
    expect(sale.total()).toEqual({ minor: 4 * 350 + 2 * 420, currency: 'EUR' });
    expect(store.writes).toHaveLength(3);
    expect(store.writes.at(-1)?.draft).toEqual(sale.items());
  });

  it(`refuses more than ${MAX_QUANTITY} of one product, a bad quantity, and lines not in the sale, changing nothing`, () => {
    const store = memoryStore();
    const sale = new DraftSale(new BasketBook('EUR', () => false, store), 'EUR');
    sale.add(tea, 998);
    expect(() => sale.add(tea, 2)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => sale.add(cake, 0)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => sale.setQuantity('tea', MAX_QUANTITY + 1)).toThrow(
      expect.objectContaining({ code: 'bad_request' }),
    );
    expect(() => sale.setQuantity('tea', 1.5)).toThrow(expect.objectContaining({ code: 'bad_request' }));
    expect(() => sale.setQuantity('cake', 1)).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(() => sale.remove('cake')).toThrow(expect.objectContaining({ code: 'not_found' }));
    expect(sale.items()).toEqual([{ sku: 'tea', name: 'Green tea', unitPriceMinor: 350, quantity: 998 }]);
    expect(store.writes).toHaveLength(1);
    sale.add(tea);
    expect(sale.items()[0]!.quantity).toBe(MAX_QUANTITY);
  });

  it('charges the sale into a waiting basket and empties it in one write; an empty sale is refused', () => {
    const store = memoryStore();
    const book = new BasketBook('EUR', () => false, store);
    const sale = new DraftSale(book, 'EUR');
    expect(() => sale.charge()).toThrow(expect.objectContaining({ code: 'bad_request' }));
    sale.add(tea, 2);
    const writesBefore = store.writes.length;
    const basket = sale.charge();
    expect(basket).toMatchObject({ state: 'open', holder: null, total: { minor: 700, currency: 'EUR' } });
    expect(sale.empty).toBe(true);
    expect(store.writes.length - writesBefore).toBe(1);
    expect(store.writes.at(-1)).toMatchObject({ put: { id: basket.id }, draft: [] });
  });

  it('comes back as it was kept, and takes back a waiting basket into its lines (not one a phone has)', () => {
    const book = new BasketBook(
      'EUR',
      () => false,
      memoryStore([{ sku: 'tea', name: 'Green tea', unitPriceMinor: 350, quantity: 1 }]),
    );
    const sale = new DraftSale(book, 'EUR');
    expect(sale.items()).toHaveLength(1);
    const waiting = book.add([{ sku: 'tea', name: 'Green tea', unitPriceMinor: 350, quantity: 2 }]);
    const withPhone = book.add([{ sku: 'cake', name: 'Cake', unitPriceMinor: 420, quantity: 1 }]);
    book.assign('phone-1', withPhone.id);
    expect(() => sale.takeBack(withPhone.id)).toThrow(expect.objectContaining({ code: 'conflict' }));
    expect(sale.takeBack(waiting.id).state).toBe('released');
    expect(sale.items()).toEqual([{ sku: 'tea', name: 'Green tea', unitPriceMinor: 350, quantity: 3 }]);
    expect(book.get(waiting.id)).toBeUndefined();
  });
});
