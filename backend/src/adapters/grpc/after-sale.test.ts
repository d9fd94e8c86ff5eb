/**
 * Refund, Void, CloseBatch and ListTransactions against a real server on 127.0.0.1:0 over mutual
 * TLS, over a SQLite file and over a PostgreSQL database: refund limits and idempotency, void rules, batch totals equal to the
 * ledger's postings, caller checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { Receipt, verifyReceipt, publicKeyFromRaw } from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { sell } from '../../test-support/sale';
import { DEMO_CARDS } from '../../admin/demo-seed';

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

const eur = (minor: number) => ({ minor, currency: 'EUR' });
const T = 'T-0001';
const balance = async (cardId: string) =>
  f.backend.store.read(async (tx) => tx.accountBalance((await tx.findCardById(cardId))!.accountId));
const batchPostings = (batchId: number) =>
  f.backend.store.read(async (tx) => {
    const { account, all } = await tx.batchPostingSums(batchId, (await tx.findMerchant('M-0001'))!.accountId);
    return { merchant: account, all };
  });
const ledgerSum = () => f.backend.store.read((tx) => tx.ledgerSum());

describe.each(fixtureStores)('after the sale over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(() => f.close());

  describe('refunds', () => {
    it('refunds part, then the rest; more is declined; a retry returns the first result; other content is ALREADY_EXISTS', async () => {
      expect(
        (await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'rf-sale-1', minor: 1000 })).approved,
      ).toBe(true);
      const before = await balance('card-alice');
      const part = await f.refund({
        terminalId: T,
        terminalTxnId: 'rf-sale-1',
        refundTxnId: 'rf-1',
        amount: eur(300),
      });
      expect(part).toMatchObject({
        approved: true,
        declineReason: '',
        replayed: false,
        refundableLeft: eur(700),
      });
      const receipt = verifyReceipt(
        part.receipt!,
        publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
        Date.now(),
      );
      expect(receipt).toMatchObject({
        kind: 'refund',
        originalTxnId: 'rf-sale-1',
        terminalTxnId: 'rf-1',
        result: 'approved',
        total: eur(300),
      });
      expect(receipt.maskedPan).toMatch(/^679999\*+0019$/);
      expect(await balance('card-alice')).toBe(before + 300);

      const again = await f.refund({
        terminalId: T,
        terminalTxnId: 'rf-sale-1',
        refundTxnId: 'rf-1',
        amount: eur(300),
      });
      expect(again.replayed).toBe(true);
      expect(Buffer.from(again.receipt!.receipt).equals(Buffer.from(part.receipt!.receipt))).toBe(true);
      expect(await balance('card-alice')).toBe(before + 300); // not twice
      await expect(
        f.refund({ terminalId: T, terminalTxnId: 'rf-sale-1', refundTxnId: 'rf-1', amount: eur(301) }),
      ).rejects.toMatchObject({ code: status.ALREADY_EXISTS });

      expect(
        await f.refund({ terminalId: T, terminalTxnId: 'rf-sale-1', refundTxnId: 'rf-2', amount: eur(701) }),
      ).toMatchObject({
        approved: false,
        declineReason: 'refund_exceeds_original',
        refundableLeft: eur(700),
      });
      expect(
        await f.direct.refund({
          terminalId: T,
          terminalTxnId: 'rf-sale-1',
          refundTxnId: 'rf-3',
          amount: eur(700),
        }),
      ).toMatchObject({ approved: true, refundableLeft: eur(0) });
      expect(
        await f.refund({ terminalId: T, terminalTxnId: 'rf-sale-1', refundTxnId: 'rf-4', amount: eur(1) }),
      ).toMatchObject({ approved: false, declineReason: 'refund_exceeds_original' });
      // The declined one is stored as declined: its retry gives the same answer.
      expect(
        await f.refund({ terminalId: T, terminalTxnId: 'rf-sale-1', refundTxnId: 'rf-2', amount: eur(701) }),
      ).toMatchObject({ approved: false, replayed: true });
      expect(await balance('card-alice')).toBe(before + 1000);
      expect(await ledgerSum()).toBe(0);
    });

    it('three refunds at once, the middle one reusing an id for other content: it is ALREADY_EXISTS, the others are stored once, as answered (on SQLite, inside one group commit that runs again)', async () => {
      expect(
        (await sell(f, { cardId: 'card-bob', pin: '2580', txn: 'rf-rerun-sale', minor: 900 })).approved,
      ).toBe(true);
      expect(
        (
          await f.refund({
            terminalId: T,
            terminalTxnId: 'rf-rerun-sale',
            refundTxnId: 'rf-r0',
            amount: eur(100),
          })
        ).approved,
      ).toBe(true);
      const before = { card: await balance('card-bob'), stats: await f.backend.commitStats() };
      // Sent at once, they share commits; the middle one reuses rf-r0 for other content and throws inside its transaction.
      const [a, conflict, b] = await Promise.allSettled([
        f.refund({ terminalId: T, terminalTxnId: 'rf-rerun-sale', refundTxnId: 'rf-r1', amount: eur(300) }),
        f.refund({ terminalId: T, terminalTxnId: 'rf-rerun-sale', refundTxnId: 'rf-r0', amount: eur(5) }),
        f.refund({ terminalId: T, terminalTxnId: 'rf-rerun-sale', refundTxnId: 'rf-r2', amount: eur(200) }),
      ]);
      expect(conflict).toMatchObject({ status: 'rejected', reason: { code: status.ALREADY_EXISTS } });
      expect(a).toMatchObject({ status: 'fulfilled', value: { approved: true, replayed: false } });
      expect(b).toMatchObject({ status: 'fulfilled', value: { approved: true, replayed: false } });
      // SQLite runs the three in one group commit: the refused one makes the batch run again.
      const after = await f.backend.commitStats();
      if ('reruns' in after && 'reruns' in before.stats)
        expect(after.reruns).toBeGreaterThan(before.stats.reruns);
      else expect(f.storeKind).toBe('postgres');
      expect(await balance('card-bob')).toBe(before.card + 500); // each once
      expect(
        (
          await f.refund({
            terminalId: T,
            terminalTxnId: 'rf-rerun-sale',
            refundTxnId: 'rf-r1',
            amount: eur(300),
          })
        ).replayed,
      ).toBe(true);
      expect(await ledgerSum()).toBe(0);
    });

    it('declines an unknown original, a declined sale, another currency; refuses a bad amount and another terminal', async () => {
      expect(
        await f.refund({
          terminalId: T,
          terminalTxnId: 'no-such-sale',
          refundTxnId: 'rf-10',
          amount: eur(1),
        }),
      ).toMatchObject({ approved: false, declineReason: 'original_not_found' });
      const big = await sell(f, { cardId: 'card-dana', pin: '1111', txn: 'rf-sale-declined', minor: 5000 });
      expect(big.declineReason).toBe('insufficient_funds');
      expect(
        (
          await f.refund({
            terminalId: T,
            terminalTxnId: 'rf-sale-declined',
            refundTxnId: 'rf-11',
            amount: eur(1),
          })
        ).declineReason,
      ).toBe('not_refundable');
      await sell(f, { cardId: 'card-bob', pin: '2580', txn: 'rf-sale-2', minor: 500 });
      expect(
        (
          await f.refund({
            terminalId: T,
            terminalTxnId: 'rf-sale-2',
            refundTxnId: 'rf-12',
            amount: { minor: 1, currency: 'USD' },
          })
        ).declineReason,
      ).toMatch(/currency_unsupported/);
      await expect(
        f.refund({ terminalId: T, terminalTxnId: 'rf-sale-2', refundTxnId: 'rf-13', amount: eur(0) }),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('amount.minor'),
      });
      const t2 = f.clientFor(f.credentialsFor('T-0002'));
      await expect(
        t2.refund({ terminalId: T, terminalTxnId: 'rf-sale-2', refundTxnId: 'rf-14', amount: eur(1) }),
      ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
      await expect(t2.voidSale({ terminalId: T, terminalTxnId: 'rf-sale-2' })).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
      });
      await expect(t2.closeBatch({ terminalId: T, closeRequestId: '' })).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
      });
      await expect(t2.listTransactions({ terminalId: T, fromMs: 0, toMs: 0 })).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
      });
      // T-0002 has no sale rf-sale-2 of its own: ids are per terminal.
      expect(
        (
          await t2.refund({
            terminalId: 'T-0002',
            terminalTxnId: 'rf-sale-2',
            refundTxnId: 'rf-14',
            amount: eur(1),
          })
        ).declineReason,
      ).toBe('original_not_found');
    });
  });

  describe('voids', () => {
    it('voids a sale of the open batch with the exact reversal, idempotently; not after a refund, nor twice, nor a refund after it', async () => {
      const before = await balance('card-chen');
      await sell(f, { cardId: 'card-chen', pin: '9876', txn: 'vd-sale-1', minor: 1234 });
      const v = await f.voidSale({ terminalId: T, terminalTxnId: 'vd-sale-1' });
      expect(v).toMatchObject({ approved: true, replayed: false });
      expect(Receipt.decode(v.receipt!.receipt)).toMatchObject({
        kind: 'void',
        originalTxnId: 'vd-sale-1',
        total: eur(1234),
      });
      expect(await balance('card-chen')).toBe(before);
      const sale = (await f.one<{ id: number }>(
        "SELECT id FROM settlements WHERE terminal_txn_id = 'vd-sale-1'",
      ))!;
      const rows = await f.select<{ a: string; m: number }>(
        'SELECT account_id AS a, amount_minor AS m FROM postings WHERE settlement_id = ? ORDER BY id',
        sale.id,
      );
      expect(rows).toHaveLength(4);
      expect(rows.slice(2).map((r) => [r.a, r.m])).toEqual(rows.slice(0, 2).map((r) => [r.a, -r.m]));
      expect(await f.direct.voidSale({ terminalId: T, terminalTxnId: 'vd-sale-1' })).toMatchObject({
        approved: true,
        replayed: true,
      });
      expect(await balance('card-chen')).toBe(before);
      expect(
        (
          await f.refund({
            terminalId: T,
            terminalTxnId: 'vd-sale-1',
            refundTxnId: 'vd-rf-1',
            amount: eur(1),
          })
        ).declineReason,
      ).toBe('not_refundable');

      await sell(f, { cardId: 'card-chen', pin: '9876', txn: 'vd-sale-2', minor: 800 });
      await f.refund({ terminalId: T, terminalTxnId: 'vd-sale-2', refundTxnId: 'vd-rf-2', amount: eur(100) });
      expect((await f.voidSale({ terminalId: T, terminalTxnId: 'vd-sale-2' })).declineReason).toBe(
        'not_voidable',
      );
      expect((await f.voidSale({ terminalId: T, terminalTxnId: 'vd-none' })).declineReason).toBe(
        'original_not_found',
      );
      expect(await ledgerSum()).toBe(0);
    });

    it('does not void a sale whose batch is closed (a refund is still possible)', async () => {
      await sell(f, { cardId: 'card-bob', pin: '2580', txn: 'vd-sale-3', minor: 250 });
      await f.closeBatch({ terminalId: T, closeRequestId: '' });
      expect((await f.voidSale({ terminalId: T, terminalTxnId: 'vd-sale-3' })).declineReason).toBe(
        'not_voidable',
      );
      expect(
        (
          await f.refund({
            terminalId: T,
            terminalTxnId: 'vd-sale-3',
            refundTxnId: 'vd-rf-3',
            amount: eur(250),
          })
        ).approved,
      ).toBe(true);
    });
  });

  describe('batch close', () => {
    it('returns totals equal to the batch postings, idempotently by close request id, and an empty batch next', async () => {
      await f.closeBatch({ terminalId: T, closeRequestId: '' }); // start from an empty batch
      await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'bt-1', minor: 2000 });
      await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'bt-2', minor: 1500 });
      await sell(f, { cardId: 'card-bob', pin: '2580', txn: 'bt-3', minor: 999 });
      await f.refund({ terminalId: T, terminalTxnId: 'bt-1', refundTxnId: 'bt-rf-1', amount: eur(500) });
      await f.refund({ terminalId: T, terminalTxnId: 'bt-1', refundTxnId: 'bt-rf-2', amount: eur(5000) }); // declined: not counted
      await f.voidSale({ terminalId: T, terminalTxnId: 'bt-3' });
      await f.refund({ terminalId: T, terminalTxnId: 'vd-sale-2', refundTxnId: 'bt-rf-3', amount: eur(100) }); // a sale of an earlier batch
      const closed = await f.closeBatch({ terminalId: T, closeRequestId: 'eod-1' });
      expect(closed.totals).toEqual({
        currency: 'EUR',
        saleCount: 3,
        saleMinor: 4499,
        refundCount: 2,
        refundMinor: 600,
        voidCount: 1,
        voidMinor: 999,
        netMinor: 2900,
      });
      expect(await batchPostings(closed.batchId)).toEqual({ merchant: 2900, all: 0 });
      expect(closed.closedAtMs).toBeGreaterThanOrEqual(closed.openedAtMs);
      expect(await f.closeBatch({ terminalId: T, closeRequestId: 'eod-1' })).toEqual({
        ...closed,
        replayed: true,
      });
      const next = await f.closeBatch({ terminalId: T, closeRequestId: 'eod-2' });
      expect(next.batchId).toBeGreaterThan(closed.batchId);
      expect(next.totals).toMatchObject({ saleCount: 0, netMinor: 0 });
      expect(await ledgerSum()).toBe(0);
    });

    it("lists the terminal's sales, refunds and voids with masked card numbers only", async () => {
      const list = await f.listTransactions({ terminalId: T, fromMs: 0, toMs: 0 });
      expect(list.truncated).toBe(false);
      const kinds = new Set(list.transactions.map((t) => t.kind));
      expect(kinds).toEqual(new Set(['sale', 'refund', 'void']));
      expect(list.transactions.find((t) => t.terminalTxnId === 'bt-rf-1')).toMatchObject({
        kind: 'refund',
        originalTxnId: 'bt-1',
        approved: true,
        amount: eur(500),
      });
      expect(list.transactions.find((t) => t.kind === 'void' && t.terminalTxnId === 'bt-3')).toMatchObject({
        originalTxnId: 'bt-3',
        amount: eur(999),
      });
      for (const t of list.transactions) {
        expect(t.maskedPan).toMatch(/^(\d{6}\*+\d{4})?$/); // empty: a refund of an unknown sale
        for (const c of DEMO_CARDS) expect(JSON.stringify(t)).not.toContain(c.pan);
      }
      const none = await f.listTransactions({ terminalId: T, fromMs: Date.now() + 60_000, toMs: 0 });
      expect(none.transactions).toHaveLength(0);
      await expect(f.listTransactions({ terminalId: T, fromMs: 10, toMs: 5 })).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
      });
    });
  });
});
