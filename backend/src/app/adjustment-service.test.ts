/**
 * A refund's or void's state change and its postings commit in one transaction (on each store: SQLite, PostgreSQL): when
 * posting fails, nothing of the operation remains (no adjustment row, no batch, no posting).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendStore, StoreTx } from '../ports/backend-store';
import { salePostings } from '../domain/ledger';
import { AdjustmentUseCase } from './adjustment-service';
import { storeFactories, stopStoreServers, type OpenedStore } from '../test-support/store-factories';

const clock = { now: () => Date.UTC(2026, 10, 24, 12) };
const admin = { kind: 'admin' } as const;

afterAll(stopStoreServers, 30_000);

/** The store with a transaction handle whose insertPostings fails, as a full disk would. */
function failingPostings(s: BackendStore): BackendStore {
  const failing = (tx: StoreTx): StoreTx =>
    new Proxy(tx, {
      get(target, prop) {
        if (prop === 'insertPostings') return () => Promise.reject(new Error('disk I/O error'));
        return Reflect.get(target, prop) as unknown;
      },
    });
  return {
    commit: (fn) => s.commit((tx) => fn(failing(tx))),
    read: (fn) => s.read(fn),
    close: () => s.close(),
  };
}

describe.each(storeFactories)('adjustments are atomic: $name', (factory) => {
  let opened: OpenedStore;
  let store: BackendStore;
  const count = (table: string) => opened.count(table);
  beforeAll(async () => {
    opened = await factory.open();
    store = opened.store;
    // An approved sale of 10.00 by card-alice, as the settlement use case would have stored it.
    await store.commit(async (tx) => {
      const batchId = (await tx.openBatch('T-0001', clock.now())).id;
      const id = await tx.insertSettlement({
        terminalId: 'T-0001',
        terminalTxnId: 'sale-1',
        requestHash: new Uint8Array(32),
        approved: true,
        declineReason: null,
        amountMinor: 1000,
        currency: 'EUR',
        cardId: 'card-alice',
        merchantId: 'M-0001',
        response: new Uint8Array(),
        createdAt: clock.now(),
        batchId,
      });
      await tx.insertPostings(
        id,
        salePostings(
          { minor: 1000, currency: 'EUR' },
          (await tx.findCardById('card-alice'))!.accountId,
          'acct-M-0001',
        ),
        clock.now(),
        { batchId, adjustmentId: null },
      );
    });
  }, 60_000);
  afterAll(async () => opened.close());

  it('leaves nothing behind when posting fails, then refunds and voids normally', async () => {
    const merchant = await store.read((tx) => tx.findMerchant('M-0001'));
    expect(merchant?.accountId).toBe('acct-M-0001');
    const before = {
      adjustments: await count('adjustments'),
      postings: await count('postings'),
      batches: await count('batches'),
    };
    const broken = new AdjustmentUseCase(failingPostings(store), opened.keys, clock);
    await expect(
      broken.refund(
        {
          terminalId: 'T-0001',
          terminalTxnId: 'sale-1',
          refundTxnId: 'rf-1',
          amount: { minor: 100, currency: 'EUR' },
        },
        admin,
      ),
    ).rejects.toThrow(/disk I\/O/);
    await expect(broken.void({ terminalId: 'T-0001', terminalTxnId: 'sale-1' }, admin)).rejects.toThrow(
      /disk I\/O/,
    );
    expect({
      adjustments: await count('adjustments'),
      postings: await count('postings'),
      batches: await count('batches'),
    }).toEqual(before);

    const ok = new AdjustmentUseCase(store, opened.keys, clock);
    expect(
      (
        await ok.refund(
          {
            terminalId: 'T-0001',
            terminalTxnId: 'sale-1',
            refundTxnId: 'rf-1',
            amount: { minor: 100, currency: 'EUR' },
          },
          admin,
        )
      ).approved,
    ).toBe(true);
    expect(await count('postings')).toBe(before.postings + 2);
    expect((await ok.void({ terminalId: 'T-0001', terminalTxnId: 'sale-1' }, admin)).declineReason).toBe(
      'not_voidable',
    ); // refunded
    expect(await store.read((tx) => tx.ledgerSum())).toBe(0);
  });
});
