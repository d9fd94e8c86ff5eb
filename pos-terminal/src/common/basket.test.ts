import { describe, expect, it } from 'vitest';
import { BasketBook } from './basket';

const tea = { sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 };

describe('BasketBook.cancel', () => {
  it('takes back an open basket only', () => {
    const book = new BasketBook('EUR');
    const a = book.add([tea]);
    const b = book.add([tea]);
    expect(book.assign('s1')?.id).toBe(a.id);
    expect(book.cancel(a.id)).toBe(false); // a phone has it
    expect(book.cancel(b.id)).toBe(true);
    expect(book.get(b.id)).toBeUndefined();
    expect(book.cancel(b.id)).toBe(false);
    book.markPaid(a.id, 'txn');
    expect(book.cancel(a.id)).toBe(false);
    expect(book.assign('s2')).toBeUndefined(); // the cancelled basket is not handed out
  });
});

describe('BasketBook.takeBack', () => {
  it('threw the basket away; now its items are merged into the sale being rung up (same product: quantities add) — was a bug', () => {
    const book = new BasketBook('EUR');
    const cake = { sku: 'cake', name: 'Cake', quantity: 1, unitPriceMinor: 420 };
    book.setDraft([{ ...tea, quantity: 2 }]);
    const b = book.add([tea, cake]);
    const a = book.add([tea]);
    book.assign('s1', a.id);
    expect(book.takeBack(a.id)).toBeUndefined(); // a phone has it
    expect(book.takeBack(b.id)?.id).toBe(b.id);
    expect(book.get(b.id)).toBeUndefined();
    expect(book.draft()).toEqual([{ ...tea, quantity: 3 }, cake]);
    expect(book.takeBack(b.id)).toBeUndefined();
  });
});

describe('BasketBook ids', () => {
  it('a basket rung up after a till restart reused the id of a journaled sale (B-0001), so its payment was taken for that earlier sale — was a bug', () => {
    const journaled = new Set(['B-0001', 'B-0002', 'B-0004']);
    const book = new BasketBook('EUR', (id) => journaled.has(id));
    expect([book.add([tea]).id, book.add([tea]).id, book.add([tea]).id]).toEqual(['B-0003', 'B-0005', 'B-0006']);
    expect(() => book.add([tea], 'B-0002')).toThrow(/exists/);
    expect(() => book.add([tea], 'B-0003')).toThrow(/exists/);
  });
});
