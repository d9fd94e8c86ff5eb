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
