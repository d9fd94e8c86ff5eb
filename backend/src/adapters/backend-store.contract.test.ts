/**
 * The store port's contract, through the port only (commit/read and the StoreTx queries), run
 * for every store in `stores`: a transaction's writes commit together or not at all and a throw
 * undoes only its own; a request id is answered exactly once (replayOf) even when two arrive in
 * the same batch; a challenge is used once; postings that do not sum to zero per currency are
 * refused; the ledger sums to zero per currency. Real stores on real files, demo-seeded.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../admin/demo-seed';
import { MasterKey } from './master-key';
import { SqliteBackendStore } from './sqlite/backend-store.sqlite';
import type { BackendStore, SettlementRow, StoreTx } from '../ports/backend-store';
import { salePostings } from '../domain/ledger';
import { replayOf } from '../app/exactly-once';
import { RequestError } from '../app/request-error';

interface StoreFactory {
  readonly name: string;
  /** A fresh store over the demo registry (merchant M-0001, terminal T-0001, card-alice); close() drops it. */
  open(): Promise<{ store: BackendStore; close(): Promise<void> }>;
}

const stores: StoreFactory[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'bluetill-store-contract-'));
      const seed = await seedDemo(dir, [], [], { masterKey: MasterKey.generate() });
      const store = new SqliteBackendStore(seed.dbPath);
      return {
        store,
        close: async () => {
          store.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

const NOW = Date.UTC(2026, 11, 7, 12);
const hashOf = (b: number) => new Uint8Array(32).fill(b);

describe.each(stores)('BackendStore contract: $name', (factory) => {
  let store: BackendStore;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ store, close } = await factory.open());
  }, 60_000);
  afterAll(async () => close());

  /** A sale of `minor` by card-alice at T-0001 under txn id `txn`, answered exactly once (the stored response is the txn id's bytes). */
  const sale =
    (txn: string, minor: number, hash = hashOf(1)) =>
    async (tx: StoreTx) => {
      const replay = replayOf(
        await tx.findSettlement('T-0001', txn),
        hash,
        (b) => ({ text: Buffer.from(b).toString() }),
        'terminal transaction id',
      );
      if (replay) return replay;
      const card = (await tx.findCardById('card-alice'))!;
      const merchant = (await tx.findMerchant('M-0001'))!;
      const batchId = (await tx.openBatch('T-0001', NOW)).id;
      const row: SettlementRow = {
        terminalId: 'T-0001',
        terminalTxnId: txn,
        requestHash: hash,
        approved: true,
        declineReason: null,
        amountMinor: minor,
        currency: 'EUR',
        cardId: card.id,
        merchantId: merchant.id,
        response: new Uint8Array(Buffer.from(txn)),
        createdAt: NOW,
        batchId,
      };
      const id = await tx.insertSettlement(row);
      await tx.insertPostings(
        id,
        salePostings({ minor, currency: 'EUR' }, card.accountId, merchant.accountId),
        NOW,
        { batchId, adjustmentId: null },
      );
      return { text: txn, replayed: false };
    };
  const balance = () => store.read((tx) => tx.accountBalance('acct-M-0001'));

  it('commits each transaction of a batch alone: a throw undoes only its own writes, the others are durable', async () => {
    const before = await balance();
    const outcomes = await Promise.allSettled([
      store.commit(sale('c-1', 100)),
      store.commit(async (tx) => {
        await sale('c-2', 200)(tx);
        throw new Error('a rule refused it after writing');
      }),
      store.commit(sale('c-3', 300)),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await store.read((tx) => tx.findSettlement('T-0001', 'c-2'))).toBeUndefined();
    expect(await balance()).toBe(before + 400);
    expect(await store.read((tx) => tx.ledgerSumsByCurrency())).toEqual({ EUR: 0 });
  });

  it('answers a request id once: the same request in the same batch replays the first, another request under it is ALREADY_EXISTS', async () => {
    const before = await balance();
    const [first, again] = await Promise.all([
      store.commit(sale('x-1', 500)),
      store.commit(sale('x-1', 500)),
    ]);
    expect(first).toEqual({ text: 'x-1', replayed: false });
    expect(again).toEqual({ text: 'x-1', replayed: true });
    const other = store.commit(sale('x-1', 999, hashOf(2)));
    await expect(other).rejects.toBeInstanceOf(RequestError);
    await expect(other).rejects.toMatchObject({ code: 'already_exists' });
    expect(await balance()).toBe(before + 500);
  });

  it('refuses postings that do not sum to zero in each currency, and keeps nothing of that transaction', async () => {
    const before = await store.read(async (tx) => ({
      sum: await tx.ledgerSum(),
      settlement: await tx.findSettlement('T-0001', 'u-1'),
    }));
    await expect(
      store.commit(async (tx) => {
        const batchId = (await tx.openBatch('T-0001', NOW)).id;
        const id = await tx.insertSettlement({
          terminalId: 'T-0001',
          terminalTxnId: 'u-1',
          requestHash: hashOf(3),
          approved: true,
          declineReason: null,
          amountMinor: 1,
          currency: 'EUR',
          cardId: 'card-alice',
          merchantId: 'M-0001',
          response: new Uint8Array(),
          createdAt: NOW,
          batchId,
        });
        await tx.insertPostings(id, [{ accountId: 'acct-M-0001', amountMinor: 1, currency: 'EUR' }], NOW, {
          batchId,
          adjustmentId: null,
        });
      }),
    ).rejects.toThrow(/unbalanced/);
    expect(before.settlement).toBeUndefined();
    expect(await store.read((tx) => tx.findSettlement('T-0001', 'u-1'))).toBeUndefined();
    expect(await store.read((tx) => tx.ledgerSum())).toBe(before.sum);
  });

  it('uses a challenge once: ok, then used; unknown and expired ones are told apart and never used', async () => {
    expect(await store.commit((tx) => tx.insertChallenge('0a0b0c0d', 'T-0001', NOW + 60_000))).toBe(true);
    expect(await store.commit((tx) => tx.insertChallenge('0a0b0c0d', 'T-0001', NOW + 60_000))).toBe(false);
    const [one, two] = await Promise.all([
      store.commit((tx) => tx.takeChallenge('0a0b0c0d', 'T-0001', NOW)),
      store.commit((tx) => tx.takeChallenge('0a0b0c0d', 'T-0001', NOW)),
    ]);
    expect([one, two]).toEqual(['ok', 'used']);
    expect(await store.commit((tx) => tx.takeChallenge('ffffffff', 'T-0001', NOW))).toBe('unknown');
    await store.commit((tx) => tx.insertChallenge('01020304', 'T-0001', NOW - 1));
    expect(await store.commit((tx) => tx.takeChallenge('01020304', 'T-0001', NOW))).toBe('expired');
  });
});
