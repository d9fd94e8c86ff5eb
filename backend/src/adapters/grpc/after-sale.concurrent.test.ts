/**
 * Thousands of mixed operations at once, against a real server over mutual TLS, over a SQLite file
 * (group commit) and over a PostgreSQL database (a transaction per request, the card row as the
 * lock), use cases on the gRPC thread, as by default; and a shorter run with them on the worker
 * thread, as `serve` runs: 16 lanes at a time, each paying with its own cards (sales,
 * some over the limit), refunding and voiding anybody's sales (so refunds, voids and sales of the
 * same sale race in one batch), retrying sales, refunds and voids with the same request at the
 * same moment (duplicates in one batch), sending two refunds with the same id and other content
 * at once (one is stored, the other ALREADY_EXISTS: on SQLite a transaction that throws inside a
 * shared commit, so its batch runs again), and closing batches (retried at once too). Outcomes
 * depend on the order, so instead of a model the run checks what must hold in every order:
 * - a duplicate pair gets the same answer (same signed receipt), exactly one not replayed;
 * - every answered sale is stored once; approved answers are exactly what the ledger holds: the
 *   merchant's balance equals approved sales − refunds − voids as the tills were told;
 * - no sale is both voided and refunded, refunds never exceed the sale, no card over its limit;
 * - the ledger sums to zero; every closed batch's totals equal its postings, and the batches'
 *   nets add up to the merchant's balance.
 * Prints the seed; BLUETILL_SEED=<n> repeats the choices (the interleaving is the machine's).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { Item, SettleRequest, SettleResponse } from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { fleetCards } from '../../admin/demo-seed';
import { seededRandom } from '@bluetill/protocol';

const LANES = 16;
const CARDS = fleetCards(LANES * 2);
const T = 'T-0001';

interface Sale {
  txn: string;
  minor: number;
  req: SettleRequest;
  res: SettleResponse;
}

afterAll(stopStoreServers, 30_000);

describe.each(
  // PostgreSQL commits each request on its own, so a run costs more there: half the operations.
  fixtureStores.flatMap((store) => [
    { store, worker: false, OPERATIONS: store === 'sqlite' ? 2_000 : 1_000 },
    { store, worker: true, OPERATIONS: store === 'sqlite' ? 600 : 300 },
  ]),
)('concurrent randomized run over $store, worker $worker', ({ store, worker, OPERATIONS }) => {
  let f: StoreFixture;
  beforeAll(async () => {
    f = await startBackendFixture({ store, extraCards: CARDS, worker });
  }, 120_000);
  afterAll(() => f.close());

  it(`${OPERATIONS} operations in ${LANES} concurrent lanes: duplicates agree, answers equal the ledger, batches reconcile`, async () => {
    const seed = Number(process.env.BLUETILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(
      `concurrent randomized run (${store}, worker ${worker}): seed ${seed} (BLUETILL_SEED=${seed} to repeat)`,
    );
    const rnd = seededRandom(seed);
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
    const sales: Sale[] = [];
    const told = { sales: 0, refunds: 0, voids: 0 }; // approved, first answers only: what tills were told moved
    const counts = {
      sale: 0,
      saleDup: 0,
      refund: 0,
      refundDup: 0,
      refundConflict: 0,
      void: 0,
      voidDup: 0,
      close: 0,
      approved: 0,
      declined: 0,
    };
    const closes: Array<{ batchId: number; net: number }> = [];
    let n = 0;
    let done = 0;

    /** The same request twice at the same moment: same answer, exactly one not replayed. */
    const twice = async <R extends { replayed: boolean }>(
      call: () => Promise<R>,
      same: (r: R) => unknown,
    ): Promise<R> => {
      const [a, b] = await Promise.all([call(), call()]);
      expect(same(a)).toEqual(same(b));
      expect([a.replayed, b.replayed].filter((r) => !r).length, 'exactly one first answer').toBe(1);
      return a.replayed ? b : a;
    };
    const sell = async (cardIndex: number, dup: boolean): Promise<void> => {
      const c = CARDS[cardIndex]!;
      const card = f.card(c.id);
      const minor = rnd() < 0.05 ? int(40_000, 120_000) : int(1, 6_000);
      const txn = `c-${++n}`;
      const { un, res: auth } = await f.authorizeCard(card, c.pin);
      expect(auth.approved, auth.declineReason).toBe(true);
      const amount = { minor, currency: 'EUR' };
      const items: Item[] = [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: minor }];
      const req: SettleRequest = {
        terminalId: T,
        terminalTxnId: txn,
        merchantId: 'M-0001',
        authorizationRef: auth.authorizationRef,
        card: card.cardData(un),
        amount,
        items,
        cryptogram: card.arqc(amount, un),
      };
      const res = dup
        ? await twice(
            () => f.settle(req),
            (r) => [r.approved, r.declineReason, r.receipt],
          )
        : await f.settle(req);
      if (!res.approved) expect(res.declineReason).toBe('insufficient_funds');
      else told.sales += minor;
      counts[res.approved ? 'approved' : 'declined']++;
      sales.push({ txn, minor, req, res });
    };
    const refund = async (dup: boolean): Promise<void> => {
      const s = sales[int(0, sales.length - 1)]!;
      const minor = rnd() < 0.2 ? int(1, s.minor + 100) : int(1, Math.max(1, Math.ceil(s.minor / 3)));
      const req = {
        terminalId: T,
        terminalTxnId: s.txn,
        refundTxnId: `cr-${++n}`,
        amount: { minor, currency: 'EUR' },
      };
      if (dup && rnd() < 0.3) {
        // The same refund id for other content at the same moment: one is stored, the other is
        // ALREADY_EXISTS, thrown inside its transaction (on SQLite its batch runs again, with savepoints).
        const other = { ...req, amount: { minor: minor + 1, currency: 'EUR' } };
        const outcomes = await Promise.allSettled([f.refund(req), f.refund(other)]);
        const stored = outcomes.flatMap((o, i) =>
          o.status === 'fulfilled' ? [{ res: o.value, minor: minor + i }] : [],
        );
        expect(stored, 'exactly one of two conflicting refunds is stored').toHaveLength(1);
        expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({
          reason: { code: status.ALREADY_EXISTS },
        });
        const { res, minor: kept } = stored[0]!;
        if (res.approved) told.refunds += kept;
        counts.refundConflict++;
        counts[res.approved ? 'approved' : 'declined']++;
        return;
      }
      const res = dup
        ? await twice(
            () => f.refund(req),
            (r) => [r.approved, r.declineReason, r.receipt, r.refundableLeft],
          )
        : await f.refund(req);
      if (res.approved) told.refunds += minor;
      else expect(['not_refundable', 'refund_exceeds_original']).toContain(res.declineReason);
      counts[res.approved ? 'approved' : 'declined']++;
    };
    const voidSale = async (dup: boolean): Promise<void> => {
      const s = sales[int(Math.max(0, sales.length - 40), sales.length - 1)]!;
      const req = { terminalId: T, terminalTxnId: s.txn };
      if (dup) {
        const [a, b] = await Promise.all([f.voidSale(req), f.voidSale(req)]);
        expect([a.approved, a.declineReason]).toEqual([b.approved, b.declineReason]);
        if (a.approved) {
          expect(a.receipt).toEqual(b.receipt);
          const first = [a, b].filter((r) => !r.replayed).length;
          expect(first).toBeLessThanOrEqual(1); // an earlier void makes both replays
          if (first === 1) told.voids += s.minor;
        }
        counts[a.approved ? 'approved' : 'declined']++;
        return;
      }
      const res = await f.voidSale(req);
      if (res.approved && !res.replayed) told.voids += s.minor;
      if (!res.approved) expect(res.declineReason).toBe('not_voidable');
      counts[res.approved ? 'approved' : 'declined']++;
    };
    const close = async (): Promise<void> => {
      const id = `cc-${++n}`;
      const res = await twice(
        () => f.closeBatch({ terminalId: T, closeRequestId: id }),
        (r) => [r.batchId, r.totals],
      );
      closes.push({ batchId: res.batchId, net: res.totals!.netMinor });
    };

    // Decide every lane's operations up front from the seed, then run the lanes at once.
    type Op = { kind: 'sale' | 'refund' | 'void' | 'close'; dup: boolean; card: number };
    const plans: Op[][] = Array.from({ length: LANES }, () => []);
    for (let op = 0; op < OPERATIONS; op++) {
      const lane = op % LANES;
      const r = rnd();
      const dup = rnd() < 0.2;
      const kind = op < LANES * 2 || r < 0.45 ? 'sale' : r < 0.75 ? 'refund' : r < 0.97 ? 'void' : 'close';
      plans[lane]!.push({ kind, dup, card: lane * 2 + (op % 2) });
    }
    await Promise.all(
      plans.map(async (plan) => {
        for (const op of plan) {
          if (op.kind === 'sale') await sell(op.card, op.dup);
          else if (op.kind === 'refund') await refund(op.dup);
          else if (op.kind === 'void') await voidSale(op.dup);
          else await close();
          counts[op.kind === 'close' ? 'close' : op.dup ? (`${op.kind}Dup` as const) : op.kind]++;
          done++;
        }
      }),
    );
    expect(done).toBe(OPERATIONS);
    const stats = await f.backend.commitStats();
    if ('largest' in stats) {
      // SQLite's group commit: concurrent requests share a commit; a throwing one reruns its batch.
      expect(stats.largest, 'concurrent requests shared a commit').toBeGreaterThan(1);
      if (counts.refundConflict > 0)
        expect(stats.reruns, 'conflicting refunds made batches run again').toBeGreaterThan(0);
    } else {
      // PostgreSQL: a commit per request; none gave up on a race or lost its connection.
      expect(stats.commits).toBeGreaterThan(OPERATIONS);
      expect(stats.failed).toBe(0);
    }
    const final = await f.closeBatch({ terminalId: T, closeRequestId: 'final' });
    closes.push({ batchId: final.batchId, net: final.totals!.netMinor });

    const read = f.backend.store.read.bind(f.backend.store);
    const one = async <R>(sql: string, ...a: unknown[]) => (await f.one<R>(sql, ...a))!;
    const balanceOf = (accountId: string) => read((tx) => tx.accountBalance(accountId));
    expect(await read((tx) => tx.ledgerSum())).toBe(0);
    // Every answered sale is stored once, with the answer the till got.
    expect(
      (await one<{ n: number }>('SELECT COUNT(*) AS n FROM settlements WHERE terminal_id = ?', T)).n,
    ).toBe(sales.length);
    for (const s of sales.filter((_, i) => i % 25 === 0))
      expect(await f.getSettlement(T, s.txn)).toEqual({ ...s.res, replayed: true });
    // What the tills were told moved is exactly what the ledger holds.
    const merchant = await balanceOf('acct-M-0001');
    expect(merchant).toBe(told.sales - told.refunds - told.voids);
    const approvedRefunds = (
      await one<{ s: number }>(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS s FROM adjustments WHERE kind = 'refund' AND approved = TRUE",
      )
    ).s;
    expect(approvedRefunds).toBe(told.refunds);
    // No sale both voided and refunded; refunds within the sale; no card over its limit.
    expect(
      (
        await one<{
          n: number;
        }>(`SELECT COUNT(*) AS n FROM adjustments v JOIN adjustments r ON r.settlement_id = v.settlement_id
      WHERE v.kind = 'void' AND v.approved = TRUE AND r.kind = 'refund' AND r.approved = TRUE`)
      ).n,
    ).toBe(0);
    expect(
      (
        await one<{ n: number }>(`SELECT COUNT(*) AS n FROM settlements s WHERE s.amount_minor <
      (SELECT COALESCE(SUM(amount_minor), 0) FROM adjustments a WHERE a.settlement_id = s.id AND a.kind = 'refund' AND a.approved = TRUE)`)
      ).n,
    ).toBe(0);
    for (const c of CARDS) {
      const card = await read((tx) => tx.findCardById(c.id));
      expect(await balanceOf(card!.accountId), c.id).toBeGreaterThanOrEqual(-c.creditLimitMinor);
    }
    // Every batch closed, reconciled with its postings; the nets add up to the merchant's balance.
    expect(
      (
        await one<{ n: number }>(
          "SELECT COUNT(*) AS n FROM batches WHERE terminal_id = ? AND status = 'open'",
          T,
        )
      ).n,
    ).toBe(0);
    const batches = await f.select<{
      id: number;
      net: number;
      fromTotals: number;
      merchant: number;
      all: number;
    }>(
      `SELECT b.id, b.net_minor AS net, b.sale_minor - b.refund_minor - b.void_minor AS "fromTotals",
        CAST(COALESCE((SELECT SUM(p.amount_minor) FROM postings p WHERE p.batch_id = b.id AND p.account_id = 'acct-M-0001'), 0) AS BIGINT) AS merchant,
        CAST(COALESCE((SELECT SUM(p.amount_minor) FROM postings p WHERE p.batch_id = b.id), 0) AS BIGINT) AS "all"
      FROM batches b WHERE b.terminal_id = ?`,
      T,
    );
    for (const b of batches)
      expect({ id: b.id, merchant: b.merchant, all: b.all, fromTotals: b.fromTotals }).toEqual({
        id: b.id,
        merchant: b.net,
        all: 0,
        fromTotals: b.net,
      });
    expect(batches.reduce((s, b) => s + b.net, 0)).toBe(merchant);
    for (const c of closes)
      expect(batches.find((b) => b.id === c.batchId)?.net, `batch ${c.batchId}`).toBe(c.net);
    console.log(
      `concurrent randomized run (${store}, worker ${worker}): seed ${seed}, ${OPERATIONS} operations in ${LANES} lanes (${JSON.stringify(counts)}), ${batches.length} batches, merchant balance ${merchant}, ledger sum 0; commits ${JSON.stringify(stats)}`,
    );
  }, 300_000);
});
