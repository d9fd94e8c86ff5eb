import { describe, expect, it } from 'vitest';
import { BasketBook, BasketTransitionError, checkBasketTransition } from './basket';

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
    expect([book.add([tea]).id, book.add([tea]).id, book.add([tea]).id]).toEqual([
      'B-0003',
      'B-0005',
      'B-0006',
    ]);
    expect(() => book.add([tea], 'B-0002')).toThrow(/exists/);
    expect(() => book.add([tea], 'B-0003')).toThrow(/exists/);
  });
});

describe('Basket transitions', () => {
  it('a basket held for a payment code has a code holder (no pseudo session): no phone takes it, release by session leaves it, only its attempt frees it', () => {
    const book = new BasketBook('EUR');
    const b = book.add([tea]);
    expect(book.holdForCode(b.id, 'T-1-txn')).toMatchObject({
      state: 'held_for_code',
      holder: { kind: 'code', txnId: 'T-1-txn' },
      sessionId: null,
    });
    expect(book.holdForCode(b.id, 'T-1-other')).toBeUndefined();
    expect(book.assign('s1')).toBeUndefined();
    expect(book.assign('s1', b.id)).toBeUndefined();
    book.release('code:T-1-txn'); // the pseudo-session id of old frees nothing
    book.releaseCode('T-1-other');
    expect(book.get(b.id)?.state).toBe('held_for_code');
    book.releaseCode('T-1-txn');
    expect(book.get(b.id)).toMatchObject({ state: 'open', holder: null });
    expect(book.assign('s1')).toMatchObject({
      id: b.id,
      state: 'assigned',
      holder: { kind: 'phone', sessionId: 's1' },
      sessionId: 's1',
    });
  });

  it('paid and released are final: a paid basket is not released, re-assigned or taken back; every move off the table throws', () => {
    const book = new BasketBook('EUR');
    const b = book.add([tea]);
    book.assign('s1', b.id);
    book.markPaid(b.id, 'txn-1');
    expect(book.get(b.id)).toMatchObject({ state: 'paid', receiptTxnId: 'txn-1', sessionId: 's1' });
    book.release('s1');
    book.markPaid(b.id, 'txn-2'); // a second word of it changes nothing
    expect(book.get(b.id)).toMatchObject({ state: 'paid', receiptTxnId: 'txn-1' });
    expect(book.assign('s2', b.id)).toBeUndefined();
    expect(book.holdForCode(b.id, 'x')).toBeUndefined();
    expect(book.takeBack(b.id)).toBeUndefined();
    for (const [from, to] of [
      ['paid', 'open'],
      ['released', 'open'],
      ['assigned', 'held_for_code'],
      ['held_for_code', 'assigned'],
      ['assigned', 'released'],
    ] as const)
      expect(() => checkBasketTransition('B-1', from, to)).toThrow(BasketTransitionError);
    expect(() => checkBasketTransition('B-1', 'open', 'paid')).not.toThrow();
  });
});

describe('BasketBook: phones waiting for a basket', () => {
  it('serves waiting phones in the order they came, as soon as a basket is charged', () => {
    const book = new BasketBook('EUR');
    const got: Array<[string, string]> = [];
    book.wait('p1', (b) => got.push(['p1', b.id]));
    book.wait('p2', (b) => got.push(['p2', b.id]));
    expect(book.waitingPhones()).toEqual(['p1', 'p2']);
    const a = book.add([tea]);
    expect(got).toEqual([['p1', a.id]]);
    expect(book.get(a.id)).toMatchObject({ state: 'assigned', sessionId: 'p1' });
    expect(book.waitingPhones()).toEqual(['p2']);
    const b = book.add([tea]);
    expect(got).toEqual([
      ['p1', a.id],
      ['p2', b.id],
    ]);
    expect(book.waitingPhones()).toEqual([]);
    expect(() => book.wait('p3', () => undefined)).not.toThrow();
    expect(() => book.wait('p3', () => undefined)).toThrow(/already waits/);
  });

  it('a waiting phone takes a basket that waits already, or one another phone gave back', () => {
    const book = new BasketBook('EUR');
    const a = book.add([tea]);
    const got: string[] = [];
    book.wait('p1', (b) => got.push(b.id));
    expect(got).toEqual([a.id]);
    book.wait('p2', (b) => got.push(b.id));
    expect(got).toEqual([a.id]);
    book.release('p1'); // p1's session ended unpaid
    expect(got).toEqual([a.id, a.id]);
    expect(book.get(a.id)?.sessionId).toBe('p2');
  });

  it('the cashier assigns a basket to one waiting phone by hand: that phone is served, not the first in line', () => {
    const book = new BasketBook('EUR');
    const got: Array<[string, string]> = [];
    book.wait('p1', (b) => got.push(['p1', b.id]));
    book.wait('p2', (b) => got.push(['p2', b.id]));
    const a = book.add([tea], undefined, undefined, false); // charged for a payment code: no phone takes it
    expect(got).toEqual([]);
    expect(book.assign('p2', a.id)?.id).toBe(a.id);
    expect(got).toEqual([['p2', a.id]]);
    expect(book.waitingPhones()).toEqual(['p1']);
  });

  it('a phone that stops waiting (gave up, cancelled, gone) is not given a basket; a basket held for a code goes to a waiting phone once the code did not pay', () => {
    const book = new BasketBook('EUR');
    const got: string[] = [];
    book.wait('p1', (b) => got.push(`p1 ${b.id}`));
    book.stopWaiting('p1');
    book.wait('p2', (b) => got.push(`p2 ${b.id}`));
    book.release('p2'); // a session that ends while it waits leaves the line
    const a = book.add([tea], undefined, undefined, false);
    expect(book.holdForCode(a.id, 'txn-1')?.state).toBe('held_for_code');
    book.wait('p3', (b) => got.push(`p3 ${b.id}`));
    expect(got).toEqual([]);
    book.releaseCode('txn-1'); // the code was declined
    expect(got).toEqual([`p3 ${a.id}`]);
    expect(book.get(a.id)).toMatchObject({ state: 'assigned', sessionId: 'p3' });
  });
});
