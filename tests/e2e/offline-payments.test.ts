/**
 * Offline payments end to end, over the real parts: the backend as a child process (stopped with
 * SIGKILL, restarted on its SQLite file), three tills as pos-terminal composes them with offline
 * mode (their journals in SQLite files, their gRPC clients with their certificates), phones paying
 * with simulated cards their issuer lets approve offline, over the in-memory radio. With the backend
 * down the tills sell offline: one sale over the floor limit and one card on the tills' block list
 * are declined "card company unreachable", and a card at its own consecutive-offline limit asks to go
 * online and is declined too. The backend back, the tills forward: each approved offline sale is
 * settled exactly once, the ledger balances per currency, and the phone's receipt (till-signed), the
 * till's journal and the card company's signed receipt agree on id, amount and ATC.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Receipt, type Item } from '@bluetill/protocol';
import type { OfflineReceipt } from '@bluetill/protocol';
import { startRig, type Rig } from '../faults/rig';
import { offlineCard } from '../support/offline-cards';

const CARDS = [1, 2, 3, 4, 5, 6].map((n) => offlineCard('offline', n));
const AT_LIMIT = offlineCard('offline', 7, 1); // approves one offline sale, then asks to go online
const BLOCKED = offlineCard('offline', 8);
const LIMITS = {
  currency: 'EUR',
  floorLimitMinor: 40_00,
  perCardDailyCount: 5,
  perCardDailyAmountMinor: 100_00,
  exposureMinor: 500_00,
  timeZone: 'Europe/Berlin',
};
const goods = (minor: number): Item[] => [
  { sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: minor },
];

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({
    backend: 'process',
    tills: 3,
    extraCards: [...CARDS, AT_LIMIT, BLOCKED],
    offline: { limits: LIMITS, blockCards: [{ pan: BLOCKED.pan, psn: 1 }] },
    attempts: 1,
    deadlineMs: 2_000,
  });
}, 90_000);
afterAll(async () => {
  await rig?.close();
});

describe('offline payments, end to end', () => {
  it('backend stopped: the tills sell offline within limits; restarted: each sale settled once, the ledger balanced, receipts agree', async () => {
    await rig.killBackend();
    type Sale = { till: number; card: (typeof CARDS)[number]; minor: number };
    const sales: Sale[] = [];
    for (let t = 0; t < 3; t++)
      for (let i = 0; i < 3; i++)
        sales.push({ till: t, card: CARDS[(t * 3 + i) % CARDS.length]!, minor: 300 + 100 * t + 7 * i });
    const approved: Array<Sale & { receipt: OfflineReceipt }> = [];
    for (const s of sales) {
      rig.ringUp(s.till, goods(s.minor));
      const { outcome } = await rig.phonePays(s.till, s.card.id, s.card.pin, {
        cvm: { method: 'offline_pin' },
        resume: false,
      });
      expect(outcome.kind, JSON.stringify(outcome)).toBe('approved_offline');
      if (outcome.kind === 'approved_offline') approved.push({ ...s, receipt: outcome.receipt });
    }
    const declinedOffline = async (till: number, card: { id: string; pin: string }, minor: number) => {
      rig.ringUp(till, goods(minor));
      const { outcome } = await rig.phonePays(till, card.id, card.pin, {
        cvm: { method: 'offline_pin' },
        resume: false,
      });
      expect(outcome).toMatchObject({ kind: 'declined', reason: 'card_company_unreachable' });
      for (const b of rig.tills[till]!.till.baskets.list())
        if (b.state === 'open') rig.tills[till]!.till.baskets.cancel(b.id);
    };
    await declinedOffline(0, CARDS[0]!, LIMITS.floorLimitMinor + 1); // over the floor limit
    await declinedOffline(1, BLOCKED, 500); // on the tills' block list
    rig.ringUp(2, goods(450));
    const first = (
      await rig.phonePays(2, AT_LIMIT.id, AT_LIMIT.pin, { cvm: { method: 'offline_pin' }, resume: false })
    ).outcome;
    expect(first.kind).toBe('approved_offline');
    if (first.kind === 'approved_offline')
      approved.push({ till: 2, card: AT_LIMIT, minor: 450, receipt: first.receipt });
    await declinedOffline(2, AT_LIMIT, 460); // the card asks to go online: no TC, declined
    for (const t of rig.tills)
      expect(t.offline!.status().open).toBe(approved.filter((a) => a.till === t.index).length);

    await rig.startBackend();
    for (const t of rig.tills) {
      await t.client.waitForReady(10_000);
      const report = await t.offline!.forward();
      expect(report.stoppedBy).toBeNull();
      expect(report.forwarded.every((f) => f.state === 'settled')).toBe(true);
      expect(t.offline!.status()).toMatchObject({ open: 0, exposureMinor: 0 });
    }
    // Each till heard the card company's signed receipt of each of its offline sales (the cashier's history keeps it).
    for (const t of rig.tills)
      expect(
        t.events.filter((e) => e.type === 'receipt' && e.receipt.offline && e.receipt.result === 'approved')
          .length,
      ).toBe(approved.filter((a) => a.till === t.index).length);
    // Forwarded again (a second round over an empty queue) nothing moves.
    for (const t of rig.tills) expect((await t.offline!.forward()).forwarded).toEqual([]);

    const settled = rig.query<{
      terminal_id: string;
      terminal_txn_id: string;
      approved: number;
      amount_minor: number;
    }>(
      "SELECT terminal_id, terminal_txn_id, approved, amount_minor FROM settlements WHERE terminal_txn_id LIKE 'OFF-%'",
    );
    expect(settled).toHaveLength(approved.length);
    for (const a of approved) {
      const rows = settled.filter((r) => r.terminal_txn_id === a.receipt.offlineId);
      expect(rows).toEqual([
        {
          terminal_id: rig.tills[a.till]!.terminalId,
          terminal_txn_id: a.receipt.offlineId,
          approved: 1,
          amount_minor: a.minor,
        },
      ]);
      // The card company's signed receipt, as the till (or the phone, later) fetches it.
      const signed = await rig.tills[a.till]!.client.getSettlement(a.receipt.offlineId);
      const receipt = Receipt.decode(signed!.receipt!.receipt);
      expect(receipt).toMatchObject({
        result: 'approved',
        offline: true,
        terminalTxnId: a.receipt.offlineId,
        total: a.receipt.total,
        atc: a.receipt.atc,
        maskedPan: a.receipt.maskedPan,
      });
    }
    const postings = rig.query<{ n: number }>(
      "SELECT COUNT(*) AS n FROM postings p JOIN settlements s ON s.id = p.settlement_id WHERE s.terminal_txn_id LIKE 'OFF-%'",
    )[0]!.n;
    expect(postings).toBe(2 * approved.length);
    const sums = rig.query<{ currency: string; s: number }>(
      'SELECT currency, SUM(amount_minor) AS s FROM postings GROUP BY currency',
    );
    expect(sums.every((r) => r.s === 0)).toBe(true);
    process.stdout.write(
      `${JSON.stringify({ bench: 'e2e_offline_payments', value: approved.length, unit: 'payments', tills: 3, declinedOffline: 3, settled: settled.length, postings })}\n`,
    );
  }, 180_000);
});
