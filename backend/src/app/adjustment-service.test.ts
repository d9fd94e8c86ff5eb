/**
 * A refund's or void's state change and its postings commit in one SQLite transaction: when
 * posting fails, nothing of the operation remains (no adjustment row, no batch, no posting).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../admin/demo-seed';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import { SoftwareKeyStore } from '../adapters/key-store.file';
import { MasterKey } from '../adapters/master-key';
import type { BackendStore, StoreTx } from '../ports/backend-store';
import { salePostings } from '../domain/ledger';
import { AdjustmentUseCase } from './adjustment-service';

let dir: string;
let store: SqliteBackendStore;
let keys: SoftwareKeyStore;
const clock = { now: () => Date.UTC(2026, 10, 24, 12) };
const admin = { kind: 'admin' } as const;
const count = (table: string) =>
  (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bluetill-adjust-'));
  const masterKey = MasterKey.generate();
  const seed = await seedDemo(dir, [], [], { masterKey });
  store = new SqliteBackendStore(seed.dbPath);
  keys = SoftwareKeyStore.fromFile(seed.keysPath, masterKey);
  // An approved sale of 10.00 by card-alice, as the settlement use case would have stored it.
  store.transaction(() => {
    const batchId = store.openBatch('T-0001', clock.now()).id;
    const id = store.insertSettlement({
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
    store.insertPostings(
      id,
      salePostings(
        { minor: 1000, currency: 'EUR' },
        store.findCardById('card-alice')!.accountId,
        'acct-M-0001',
      ),
      clock.now(),
      { batchId, adjustmentId: null },
    );
  });
});
afterAll(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

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

describe('adjustments are atomic', () => {
  it('leaves nothing behind when posting fails, then refunds and voids normally', async () => {
    const merchant = store.findMerchant('M-0001');
    expect(merchant?.accountId).toBe('acct-M-0001');
    const before = {
      adjustments: count('adjustments'),
      postings: count('postings'),
      batches: count('batches'),
    };
    const broken = new AdjustmentUseCase(failingPostings(store), keys, clock);
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
      adjustments: count('adjustments'),
      postings: count('postings'),
      batches: count('batches'),
    }).toEqual(before);

    const ok = new AdjustmentUseCase(store, keys, clock);
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
    expect(count('postings')).toBe(before.postings + 2);
    expect((await ok.void({ terminalId: 'T-0001', terminalTxnId: 'sale-1' }, admin)).declineReason).toBe(
      'not_voidable',
    ); // refunded
    expect(store.ledgerSum()).toBe(0);
  });
});
