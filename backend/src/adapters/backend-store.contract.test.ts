/**
 * The store port's contract, through the port only (commit/read and the StoreTx queries), run
 * for every store in `stores` (SQLite on a file; PostgreSQL 15 on a throwaway server, one
 * database per factory open, migrated): a transaction's writes commit together or not at all and
 * a throw undoes only its own; a request id is answered exactly once (replayOf) even when several
 * arrive at once; concurrent commits on one card neither lose an update nor move its ATC back; each ATC of a
 * card is used once in any order, the same ATC from two nodes at once by exactly one; a
 * challenge and a temporary code are used once, however many take them at once; postings that do
 * not sum to zero per currency are refused (on PostgreSQL by the database itself, at COMMIT); the
 * ledger sums to zero per currency. Demo registry: merchant M-0001, terminal T-0001, card-alice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendStore, SettlementRow, StoreTx } from '../ports/backend-store';
import { salePostings } from '../domain/ledger';
import { replayOf } from '../app/exactly-once';
import { RequestError } from '../app/request-error';
import { storeFactories, stopStoreServers, type OpenedStore } from '../test-support/store-factories';

/** Who refuses an unbalanced ledger transaction: the SQLite adapter, or PostgreSQL itself at COMMIT (the adapter checks nothing). */
const unbalancedRefusal = {
  sqlite: { message: expect.stringMatching(/unbalanced/) },
  postgres: {
    code: 'unbalanced',
    message: expect.stringMatching(/unbalanced/),
    cause: expect.objectContaining({ code: '23514', constraint_name: 'postings_balanced' }),
  },
} as const;

afterAll(stopStoreServers, 30_000);

const NOW = Date.UTC(2026, 11, 7, 12);
const hashOf = (b: number) => new Uint8Array(32).fill(b);

describe.each(storeFactories)('BackendStore contract: $name', (factory) => {
  let opened: OpenedStore;
  let store: BackendStore;
  beforeAll(async () => {
    opened = await factory.open({ extraTerminals: ['T-0002'] });
    store = opened.store;
  }, 60_000);
  afterAll(async () => opened.close());

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

  it('answers a request id once: the same request from several callers at once is stored once, every other caller gets the stored answer; another request under it is ALREADY_EXISTS', async () => {
    const before = await balance();
    const answers = await Promise.all(Array.from({ length: 6 }, () => store.commit(sale('x-1', 500))));
    expect(answers.filter((a) => !a.replayed)).toEqual([{ text: 'x-1', replayed: false }]);
    expect(answers.filter((a) => a.replayed)).toEqual(Array(5).fill({ text: 'x-1', replayed: true }));
    const other = store.commit(sale('x-1', 999, hashOf(2)));
    await expect(other).rejects.toBeInstanceOf(RequestError);
    await expect(other).rejects.toMatchObject({ code: 'already_exists' });
    expect(await balance()).toBe(before + 500);
    expect(await store.read((tx) => tx.listTransactions('T-0001', NOW, NOW + 1, 100))).toEqual(
      expect.arrayContaining([expect.objectContaining({ terminalTxnId: 'x-1', amountMinor: 500 })]),
    );
    const rows = await store.read((tx) => tx.listTransactions('T-0001', NOW, NOW + 1, 100));
    expect(rows.filter((r) => r.terminalTxnId === 'x-1')).toHaveLength(1);
  });

  it('serializes commits on one card: no update is lost, and its ATC only moves forward whatever order they run in', async () => {
    const start = (await store.read((tx) => tx.findCardById('card-alice')))!;
    const atcs = [7, 3, 12, 9, 12, 1, 11, 5];
    const outcomes = await Promise.all(
      atcs.map((atc) =>
        store.commit(async (tx) => {
          const card = (await tx.findCardById('card-alice'))!;
          // A read-modify-write of the card's state: without the card's lock two of these would
          // read the same count and one increment would be lost.
          await tx.setPinTries(card.id, card.pinTries + 1);
          if (atc <= card.lastAtc) return 'replayed_atc';
          await tx.setLastAtc(card.id, atc);
          return 'advanced';
        }),
      ),
    );
    const after = (await store.read((tx) => tx.findCardById('card-alice')))!;
    expect(after.pinTries).toBe(start.pinTries + atcs.length);
    expect(after.lastAtc).toBe(Math.max(start.lastAtc, ...atcs));
    // The second 12 always finds the first one's ATC, whichever ran first.
    expect(outcomes.filter((o) => o === 'replayed_atc').length).toBeGreaterThanOrEqual(1);
    await store.commit((tx) => tx.setPinTries('card-alice', start.pinTries));
  });

  it('uses each ATC of a card once, in any order (a lower ATC after a higher one is new), and raises its highest ATC seen', async () => {
    const atcs = [40_000, 30_000, 40_000, 35_000, 30_000];
    const used: boolean[] = [];
    for (const atc of atcs) used.push(await store.commit((tx) => tx.useAtc('card-alice', atc)));
    expect(used).toEqual([true, true, false, true, false]);
    const card = (await store.read((tx) => tx.findCardById('card-alice')))!;
    expect(card.lastAtc).toBe(40_000);
    // Another card's ATCs are its own.
    expect(await store.commit((tx) => tx.useAtc('card-bob', 30_000))).toBe(true);
    // A transaction that throws after using an ATC leaves it unused.
    await expect(
      store.commit(async (tx) => {
        await tx.useAtc('card-alice', 31_000);
        throw new Error('refused after using it');
      }),
    ).rejects.toThrow(/refused/);
    expect(await store.commit((tx) => tx.useAtc('card-alice', 31_000))).toBe(true);
  });

  it('the same ATC from two nodes at once: exactly one uses it, every other is told it was used', async () => {
    const peer = await opened.peer();
    try {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? peer : store).commit(async (tx) => {
            // As the services do: the card under its lock, then its ATC.
            await tx.findCardById('card-alice');
            return tx.useAtc('card-alice', 50_000);
          }),
        ),
      );
      expect(answers.filter((a) => a)).toHaveLength(1);
      expect(answers.filter((a) => !a)).toHaveLength(7);
      // Without the card's lock the unique key (card, ATC) still decides: one more race, bare.
      const bare = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? peer : store).commit((tx) => tx.useAtc('card-alice', 50_001)),
        ),
      );
      expect(bare.filter((a) => a)).toHaveLength(1);
      expect(
        await opened.select('SELECT atc FROM card_atcs WHERE card_id = ? AND atc >= ?', 'card-alice', 50_000),
      ).toHaveLength(2);
    } finally {
      await peer.close();
    }
  });

  it('refuses postings that do not sum to zero in each currency, and keeps nothing of that transaction', async () => {
    const before = await store.read(async (tx) => ({
      sum: await tx.ledgerSum(),
      settlement: await tx.findSettlement('T-0001', 'u-1'),
    }));
    const refused = await store
      .commit(async (tx) => {
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
      })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toMatchObject(unbalancedRefusal[factory.name]);
    expect(before.settlement).toBeUndefined();
    expect(await store.read((tx) => tx.findSettlement('T-0001', 'u-1'))).toBeUndefined();
    expect(await store.read((tx) => tx.ledgerSum())).toBe(before.sum);
  });

  it('uses a challenge once: of several takers at once one gets ok, the others used; unknown and expired ones are told apart and never used', async () => {
    expect(await store.commit((tx) => tx.insertChallenge('0a0b0c0d', 'T-0001', NOW + 60_000))).toBe(true);
    expect(await store.commit((tx) => tx.insertChallenge('0a0b0c0d', 'T-0001', NOW + 60_000))).toBe(false);
    const states = await Promise.all(
      Array.from({ length: 6 }, () => store.commit((tx) => tx.takeChallenge('0a0b0c0d', 'T-0001', NOW))),
    );
    expect(states.sort()).toEqual(['ok', 'used', 'used', 'used', 'used', 'used']);
    expect(await store.commit((tx) => tx.takeChallenge('ffffffff', 'T-0001', NOW))).toBe('unknown');
    await store.commit((tx) => tx.insertChallenge('01020304', 'T-0001', NOW - 1));
    expect(await store.commit((tx) => tx.takeChallenge('01020304', 'T-0001', NOW))).toBe('expired');
    expect(await store.commit((tx) => tx.takeChallenge('01020304', 'T-0001', NOW - 10))).toBe('ok');
  });

  it("bounds a terminal's challenges at the real time: its expired ones go, then the unused ones beyond the newest `keep` live ones; a used live one stays; other terminals untouched", async () => {
    // Expiries around the wall clock, as in service: the database may judge expiry by its own clock.
    const now = Date.now();
    await store.commit(async (tx) => {
      await tx.insertChallenge('b0000009', 'T-0001', now + 1_000);
      await tx.insertChallenge('b0000001', 'T-0002', now - 1_000);
      for (let i = 2; i <= 6; i++) await tx.insertChallenge(`b000000${i}`, 'T-0002', now + i * 10_000);
    });
    await store.commit((tx) => tx.takeChallenge('b0000006', 'T-0002', now));
    await store.commit((tx) => tx.takeChallenge('b0000003', 'T-0002', now));
    expect(await store.commit((tx) => tx.boundChallenges('T-0002', now, 2))).toBe(3);
    const states = await store.commit(async (tx) => {
      const out: Record<string, string> = {};
      for (let i = 1; i <= 6; i++) out[`b000000${i}`] = await tx.takeChallenge(`b000000${i}`, 'T-0002', now);
      return out;
    });
    // The two newest stay (one of them used), and the older used one; the older unused live ones and the expired one are gone.
    expect(states).toEqual({
      b0000001: 'unknown',
      b0000002: 'unknown',
      b0000003: 'used',
      b0000004: 'unknown',
      b0000005: 'ok',
      b0000006: 'used',
    });
    expect(await store.commit((tx) => tx.takeChallenge('b0000009', 'T-0001', now))).toBe('ok');
  });

  it("uses a phone's challenge once: peek changes nothing, of several takers at once one gets ok", async () => {
    expect(await store.commit((tx) => tx.insertShopperChallenge('a1b2c3d4', NOW + 60_000))).toBe(true);
    expect(await store.commit((tx) => tx.insertShopperChallenge('a1b2c3d4', NOW + 60_000))).toBe(false);
    expect(await store.read((tx) => tx.peekShopperChallenge('a1b2c3d4', NOW))).toBe('ok');
    expect(await store.read((tx) => tx.peekShopperChallenge('a1b2c3d4', NOW + 60_001))).toBe('expired');
    const states = await Promise.all(
      Array.from({ length: 5 }, () => store.commit((tx) => tx.takeShopperChallenge('a1b2c3d4', NOW))),
    );
    expect(states.sort()).toEqual(['ok', 'used', 'used', 'used', 'used']);
    expect(await store.read((tx) => tx.peekShopperChallenge('a1b2c3d4', NOW))).toBe('used');
    expect(await store.read((tx) => tx.peekShopperChallenge('99999999', NOW))).toBe('unknown');
  });

  it('uses a temporary code once, in the same commit as the sale that consumed it: of several tills keying it in at once one settles', async () => {
    const before = await balance();
    const codeId = await store.commit((tx) =>
      tx.insertCode({
        codeHash: 'code-hash-1',
        cardId: 'card-alice',
        limitMinor: 50_00,
        currency: 'EUR',
        createdAt: NOW,
        expiresAt: NOW + 300_000,
      }),
    );
    const redeem = (txn: string) => async (tx: StoreTx) => {
      const [code] = await tx.findCodes('code-hash-1');
      if (!code || code.usedAt !== null) return 'used';
      await sale(txn, 1_00)(tx);
      const settlement = (await tx.findSettlement('T-0001', txn))!;
      await tx.markCodeUsed(code.id, settlement.id!, NOW);
      return 'settled';
    };
    const outcomes = await Promise.all(['k-1', 'k-2', 'k-3', 'k-4'].map((t) => store.commit(redeem(t))));
    expect(outcomes.sort()).toEqual(['settled', 'used', 'used', 'used']);
    expect(await balance()).toBe(before + 1_00);
    const [code] = await store.read((tx) => tx.findCodes('code-hash-1'));
    expect(code).toMatchObject({ id: codeId, usedAt: NOW, cardId: 'card-alice', limitMinor: 50_00 });
    const settled = await store.read(async (tx) =>
      (await Promise.all(['k-1', 'k-2', 'k-3', 'k-4'].map((t) => tx.findSettlement('T-0001', t)))).filter(
        Boolean,
      ),
    );
    expect(settled).toHaveLength(1);
    // Marking it used again is refused, and that transaction's own writes go with it.
    await expect(
      store.commit(async (tx) => {
        await tx.recordWrongCode('M-0001', 'T-0001', NOW);
        await tx.markCodeUsed(codeId, settled[0]!.id!, NOW + 1);
      }),
    ).rejects.toThrow(/already used/);
    expect(await store.read((tx) => tx.countWrongCodes('M-0001', 'T-0001', NOW))).toEqual({
      merchant: 0,
      terminal: 0,
    });
  });

  it("closes a terminal's batch with totals that reconcile with its postings, once; lists its sales and refunds", async () => {
    // A batch of its own: T-0002's sale and a refund of part of it.
    const at = NOW + 10_000;
    const { saleId, batchId } = await store.commit(async (tx) => {
      const card = (await tx.findCardById('card-alice'))!;
      const batch = await tx.openBatch('T-0002', at);
      const id = await tx.insertSettlement({
        terminalId: 'T-0002',
        terminalTxnId: 'b-1',
        requestHash: hashOf(4),
        approved: true,
        declineReason: null,
        amountMinor: 40_00,
        currency: 'EUR',
        cardId: card.id,
        merchantId: 'M-0001',
        response: new Uint8Array([1]),
        createdAt: at,
        batchId: batch.id,
      });
      await tx.insertPostings(
        id,
        salePostings({ minor: 40_00, currency: 'EUR' }, card.accountId, 'acct-M-0001'),
        at,
        {
          batchId: batch.id,
          adjustmentId: null,
        },
      );
      return { saleId: id, batchId: batch.id };
    });
    await store.commit(async (tx) => {
      const sale = await tx.salePostingsOf(saleId);
      expect(sale.map((p) => p.amountMinor)).toEqual([-40_00, 40_00]);
      const adjustmentId = await tx.insertAdjustment({
        kind: 'refund',
        terminalId: 'T-0002',
        opTxnId: 'rf-1',
        originalTxnId: 'b-1',
        settlementId: saleId,
        batchId,
        requestHash: hashOf(5),
        approved: true,
        declineReason: null,
        amountMinor: 15_00,
        currency: 'EUR',
        response: new Uint8Array([2]),
        createdAt: at + 1,
      });
      await tx.insertPostings(
        saleId,
        sale.map((p) => ({ ...p, amountMinor: -Math.sign(p.amountMinor) * 15_00 })),
        at + 1,
        { batchId, adjustmentId },
      );
    });
    const totals = await store.read((tx) => tx.computeBatchTotals(batchId));
    expect(totals).toEqual({
      currency: 'EUR',
      saleCount: 1,
      saleMinor: 40_00,
      refundCount: 1,
      refundMinor: 15_00,
      voidCount: 0,
      voidMinor: 0,
      netMinor: 25_00,
    });
    expect(await store.read((tx) => tx.batchPostingSums(batchId, 'acct-M-0001'))).toEqual({
      account: 25_00,
      all: 0,
    });
    expect(await store.read((tx) => tx.refundedMinor(saleId))).toBe(15_00);
    expect(await store.read((tx) => tx.findAdjustment('T-0002', 'refund', 'rf-1'))).toMatchObject({
      approved: true,
      amountMinor: 15_00,
      settlementId: saleId,
    });
    await store.commit((tx) => tx.closeBatch(batchId, totals, at + 2, 'close-1'));
    await expect(store.commit((tx) => tx.closeBatch(batchId, totals, at + 3, 'close-2'))).rejects.toThrow(
      /not open/,
    );
    expect(await store.read((tx) => tx.findBatchByCloseRequest('T-0002', 'close-1'))).toEqual({
      id: batchId,
      terminalId: 'T-0002',
      status: 'closed',
      openedAt: at,
      closedAt: at + 2,
      closeRequestId: 'close-1',
      totals,
    });
    expect(await store.read((tx) => tx.findOpenBatch('T-0002'))).toBeUndefined();
    expect(await store.read((tx) => tx.listTransactions('T-0002', at, at + 10, 10))).toEqual([
      expect.objectContaining({
        kind: 'sale',
        terminalTxnId: 'b-1',
        approved: true,
        amountMinor: 40_00,
        batchId,
      }),
      expect.objectContaining({
        kind: 'refund',
        terminalTxnId: 'rf-1',
        originalTxnId: 'b-1',
        amountMinor: 15_00,
        currency: 'EUR',
        batchId,
      }),
    ]);
    const merchantList = await store.read((tx) => tx.listMerchantTransactions('M-0001', at, at + 10, 10));
    expect(merchantList.map((r) => [r.terminalId, r.kind, r.terminalTxnId])).toEqual([
      ['T-0002', 'sale', 'b-1'],
      ['T-0002', 'refund', 'rf-1'],
    ]);
  });

  it('keeps the ledger at zero per currency after everything above', async () => {
    expect(await store.read((tx) => tx.ledgerSumsByCurrency())).toEqual({ EUR: 0 });
    expect(await store.read((tx) => tx.ledgerSum())).toBe(0);
  });
});
