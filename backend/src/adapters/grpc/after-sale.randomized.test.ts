/**
 * A seeded random run of ~2,000 mixed operations against a real server over mutual TLS, over a
 * SQLite file and over a PostgreSQL database: sales, refunds (some over the limit, some with a reused id), voids, retries of
 * earlier requests, and batch closes. Every answer is checked against an independent model;
 * at the end the ledger sums to zero and every closed batch's totals equal its postings.
 * BLUETILL_SEED=<n> reruns a given seed (printed on every run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import type { DeclineCode } from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { sell } from '../../test-support/sale';
import { fleetCards } from '../../admin/demo-seed';
import { seededRandom } from '@bluetill/protocol';

const OPERATIONS = 2_000;
const CARDS = fleetCards(20);
const T = 'T-0001';

interface SaleModel {
  txn: string;
  card: string;
  minor: number;
  approved: boolean;
  refunded: number;
  voided: boolean;
  batch: number;
}
interface Totals {
  saleCount: number;
  saleMinor: number;
  refundCount: number;
  refundMinor: number;
  voidCount: number;
  voidMinor: number;
}
const zero = (): Totals => ({
  saleCount: 0,
  saleMinor: 0,
  refundCount: 0,
  refundMinor: 0,
  voidCount: 0,
  voidMinor: 0,
});

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

describe.each(fixtureStores)('randomized after-sale run over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store, extraCards: CARDS });
  }, 120_000);
  afterAll(() => f.close());

  it(`${OPERATIONS} mixed operations agree with a model; the ledger sums to zero; every batch reconciles`, async () => {
    const seed = Number(process.env.BLUETILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(
      `randomized after-sale run over ${f.storeKind}: seed ${seed} (BLUETILL_SEED=${seed} to repeat)`,
    );
    const rnd = seededRandom(seed);
    const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
    const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));

    const sales: SaleModel[] = [];
    const balance = new Map(CARDS.map((c) => [c.id, 0]));
    const limit = new Map(CARDS.map((c) => [c.id, c.creditLimitMinor]));
    const refunds: Array<{ id: string; txn: string; minor: number; approved: boolean; decline: string }> = [];
    let batch = 0; // model batch number: index of the open batch
    const totals: Totals[] = [zero()];
    const counts = { sale: 0, refund: 0, void: 0, retry: 0, reuse: 0, close: 0, approved: 0, declined: 0 };
    let n = 0;

    const refundOutcome = (s: SaleModel | undefined, minor: number): DeclineCode | null => {
      if (!s) return 'original_not_found';
      if (!s.approved || s.voided) return 'not_refundable';
      if (minor > s.minor - s.refunded) return 'refund_exceeds_original';
      return null;
    };
    const voidOutcome = (s: SaleModel | undefined): DeclineCode | null => {
      if (!s) return 'original_not_found';
      if (!s.approved || s.batch !== batch || s.refunded > 0) return 'not_voidable';
      return null;
    };

    for (let op = 0; op < OPERATIONS; op++) {
      const r = rnd();
      if (r < 0.35 || sales.length === 0) {
        counts.sale++;
        const card = pick(CARDS);
        const minor = rnd() < 0.05 ? int(50_000, 120_000) : int(1, 6_000); // a few over the limit
        const txn = `s-${++n}`;
        const expectApproved = minor <= limit.get(card.id)! + balance.get(card.id)!;
        const res = await sell(f, { cardId: card.id, pin: card.pin, txn, minor });
        expect(res.approved ? null : res.declineReason, `${txn}`).toBe(
          expectApproved ? null : 'insufficient_funds',
        );
        sales.push({
          txn,
          card: card.id,
          minor,
          approved: res.approved,
          refunded: 0,
          voided: false,
          batch,
        });
        if (res.approved) {
          balance.set(card.id, balance.get(card.id)! - minor);
          totals[batch]!.saleCount++;
          totals[batch]!.saleMinor += minor;
        }
        counts[res.approved ? 'approved' : 'declined']++;
      } else if (r < 0.6) {
        counts.refund++;
        const s = rnd() < 0.03 ? undefined : pick(sales);
        const left = s ? s.minor - s.refunded : 100;
        const minor =
          rnd() < 0.15 ? left + int(1, 500) : int(1, Math.max(1, rnd() < 0.3 ? left : Math.ceil(left / 3)));
        const id = `r-${++n}`;
        const expected = refundOutcome(s, minor);
        const res = await f.refund({
          terminalId: T,
          terminalTxnId: s?.txn ?? `missing-${n}`,
          refundTxnId: id,
          amount: { minor, currency: 'EUR' },
        });
        expect(res.approved ? null : res.declineReason, id).toBe(expected);
        refunds.push({
          id,
          txn: s?.txn ?? `missing-${n}`,
          minor,
          approved: res.approved,
          decline: res.declineReason,
        });
        if (res.approved) {
          s!.refunded += minor;
          balance.set(s!.card, balance.get(s!.card)! + minor);
          totals[batch]!.refundCount++;
          totals[batch]!.refundMinor += minor;
        }
        counts[res.approved ? 'approved' : 'declined']++;
      } else if (r < 0.72) {
        counts.void++;
        const recent = sales.slice(-30);
        const s = rnd() < 0.03 ? undefined : pick(recent);
        const wasVoided = s?.voided === true;
        const expected = wasVoided ? null : voidOutcome(s);
        const res = await f.voidSale({ terminalId: T, terminalTxnId: s?.txn ?? `missing-${++n}` });
        expect(res.approved ? null : res.declineReason, `void ${s?.txn}`).toBe(expected);
        expect(res.replayed).toBe(wasVoided);
        if (res.approved && !wasVoided) {
          s!.voided = true;
          balance.set(s!.card, balance.get(s!.card)! + s!.minor);
          totals[batch]!.voidCount++;
          totals[batch]!.voidMinor += s!.minor;
        }
        counts[res.approved ? 'approved' : 'declined']++;
      } else if (r < 0.9) {
        counts.retry++;
        if (refunds.length > 0 && rnd() < 0.6) {
          const prior = pick(refunds);
          const res = await f.refund({
            terminalId: T,
            terminalTxnId: prior.txn,
            refundTxnId: prior.id,
            amount: { minor: prior.minor, currency: 'EUR' },
          });
          expect({ approved: res.approved, decline: res.declineReason, replayed: res.replayed }).toEqual({
            approved: prior.approved,
            decline: prior.decline,
            replayed: true,
          });
        } else {
          const s = pick(sales);
          const res = await f.getSettlement(T, s.txn);
          expect(res.approved).toBe(s.approved);
        }
      } else if (r < 0.96 && refunds.length > 0) {
        counts.reuse++;
        const prior = pick(refunds);
        await expect(
          f.refund({
            terminalId: T,
            terminalTxnId: prior.txn,
            refundTxnId: prior.id,
            amount: { minor: prior.minor + 1, currency: 'EUR' },
          }),
        ).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
      } else {
        counts.close++;
        const res = await f.closeBatch({ terminalId: T, closeRequestId: `close-${++n}` });
        const t = totals[batch]!;
        expect(res.totals, `batch ${batch}`).toMatchObject({
          ...t,
          netMinor: t.saleMinor - t.refundMinor - t.voidMinor,
        });
        if (rnd() < 0.3)
          expect((await f.closeBatch({ terminalId: T, closeRequestId: `close-${n}` })).batchId).toBe(
            res.batchId,
          );
        batch++;
        totals.push(zero());
      }
    }
    await f.closeBatch({ terminalId: T, closeRequestId: 'final' });
    counts.close++;

    const ledgerSum = await f.backend.store.read((tx) => tx.ledgerSum());
    expect(ledgerSum).toBe(0);
    // Every account's running balance (what the credit check reads, through the port: one column on
    // SQLite, the sum of its slots on PostgreSQL) is the sum of its postings.
    const posted = await f.select<{ id: string; posted: number }>(
      `SELECT a.id, CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) AS posted
        FROM accounts a LEFT JOIN postings p ON p.account_id = a.id GROUP BY a.id`,
    );
    expect(posted.length).toBeGreaterThan(1);
    const off: Array<{ id: string; balance: number; posted: number }> = [];
    for (const a of posted) {
      const balance = await f.backend.store.read((tx) => tx.accountBalance(a.id));
      if (balance !== Number(a.posted)) off.push({ id: a.id, balance, posted: Number(a.posted) });
    }
    expect(off).toEqual([]);
    expect(await f.backend.store.read((tx) => tx.accountBalance('acct-M-0001'))).toBeGreaterThan(0);
    const closed = await f.select<{
      id: number;
      net: number;
      sale: number;
      refund: number;
      void: number;
      merchant: number;
      all: number;
    }>(
      `SELECT b.id, b.net_minor AS net, b.sale_minor AS sale, b.refund_minor AS refund, b.void_minor AS void,
        CAST(COALESCE((SELECT SUM(p.amount_minor) FROM postings p, merchants m WHERE p.batch_id = b.id AND m.id = 'M-0001' AND p.account_id = m.account_id), 0) AS BIGINT) AS merchant,
        CAST(COALESCE((SELECT SUM(p.amount_minor) FROM postings p WHERE p.batch_id = b.id), 0) AS BIGINT) AS "all"
      FROM batches b WHERE b.terminal_id = ? AND b.status = 'closed'`,
      T,
    );
    expect(closed.length).toBe(counts.close);
    for (const b of closed) {
      expect(b.merchant, `batch ${b.id}`).toBe(b.net);
      expect(b.all, `batch ${b.id}`).toBe(0);
      expect(b.net).toBe(b.sale - b.refund - b.void);
    }
    const cardBalances = await f.select<{ id: string; b: number }>(
      'SELECT c.id, CAST(COALESCE((SELECT SUM(amount_minor) FROM postings p WHERE p.account_id = c.account_id), 0) AS BIGINT) AS b FROM cards c',
    );
    for (const c of cardBalances) if (balance.has(c.id)) expect(c.b, c.id).toBe(balance.get(c.id));
    console.log(
      `randomized after-sale run over ${f.storeKind}: seed ${seed}, ${OPERATIONS} operations (${JSON.stringify(counts)}), ${closed.length} batches closed, ledger sum ${ledgerSum}`,
    );
  }, 300_000);
});
