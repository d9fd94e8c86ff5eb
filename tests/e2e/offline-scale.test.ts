/**
 * Offline payments at the scale, over the real parts: the backend as a child process
 * (stopped with SIGKILL, restarted on its SQLite file), three tills as pos-terminal composes them
 * with offline mode, and 30 phones, each with its own simulated card, paying 10 sales at each till
 * over the in-memory radio while the card company is unreachable:
 * - two sales over the merchant's floor limit and one card at its own consecutive-offline limit
 *   (it asks to go online) are declined "card company unreachable" at the till;
 * - one card was blocked at the card company after the tills last heard of it: the till approves
 *   its sale offline, and the card company records it as the merchant's loss (card_blocked);
 * - every other sale is approved offline with a till-signed receipt.
 * The backend back, the tills forward: each approved sale is settled exactly once, the blocked
 * card's is the merchant's loss, the ledger balances, and the phone's receipt, the till's and the
 * card company's agree with the ledger's postings. Then phones fetch the card company's confirmed
 * receipt (Shopper.GetOfflineReceipt, the card proving itself): through the phone's flow for a few
 * sales and the blocked card's, and through `bluetill-phone-sim receipt` for one.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { Receipt, SettleResponse, type Item, type OfflineReceipt } from '@bluetill/protocol';
import { GrpcShopperBackend, confirmOfflineSale } from '@bluetill/phone-agent';
import { SqliteRegistryAdmin } from '../../backend/src/adapters/sqlite/registry-admin.sqlite';
import { startRig, type Rig } from '../faults/rig';
import { offlineCard } from '../support/offline-cards';
import { PHONE_SIM_CLI, runCli } from '../support/run-cli';

const PHONES = 30;
/** Phone n pays at till floor((n-1)/10). */
const AT_LIMIT = 25; // its card allows no offline sale in a row: it asks to go online
const BLOCKED = 12; // blocked at the card company, not on the tills' copy
const OVER_FLOOR = new Set([5, 18]);
const CARDS = Array.from({ length: PHONES }, (_, i) =>
  offlineCard('scale', i + 1, i + 1 === AT_LIMIT ? 0 : 5),
);
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
    extraCards: CARDS,
    offline: { limits: LIMITS },
    attempts: 1,
    deadlineMs: 2_000,
  });
}, 120_000);
afterAll(async () => {
  await rig?.close();
});

describe('offline payments at scale, end to end', () => {
  it('3 tills × 10 offline sales from 30 phones with the backend stopped; restarted and forwarded: each approved sale settled once, the blocked card the merchant’s loss, the ledger balanced, the receipts agree; phones fetch the confirmed receipt', async () => {
    const started = Date.now();
    await rig.killBackend();
    // Blocked at the card company while the tills are cut off from it: their copies never hear of it.
    const db = new Database(rig.seed.dbPath);
    try {
      await new SqliteRegistryAdmin(db).setCardStatus(`card-scale-${BLOCKED}`, 'blocked');
    } finally {
      db.close();
    }

    type Sale = { phone: number; till: number; minor: number };
    const sales: Sale[] = CARDS.map((_, i) => ({
      phone: i + 1,
      till: Math.floor(i / 10),
      minor: OVER_FLOOR.has(i + 1) ? LIMITS.floorLimitMinor + 1 : 500 + 113 * (i % 10) + i,
    }));
    const approved: Array<Sale & { receipt: OfflineReceipt }> = [];
    const declined: Sale[] = [];
    for (const s of sales) {
      const card = CARDS[s.phone - 1]!;
      rig.ringUp(s.till, goods(s.minor));
      const { outcome } = await rig.phonePays(s.till, card.id, card.pin, {
        cvm: { method: 'offline_pin' },
        resume: false,
      });
      if (OVER_FLOOR.has(s.phone) || s.phone === AT_LIMIT) {
        expect(outcome, `phone ${s.phone}`).toMatchObject({
          kind: 'declined',
          reason: 'card_company_unreachable',
        });
        declined.push(s);
        for (const b of rig.tills[s.till]!.till.baskets.list())
          if (b.state === 'open') rig.tills[s.till]!.till.baskets.cancel(b.id);
        continue;
      }
      expect(outcome.kind, `phone ${s.phone}: ${JSON.stringify(outcome)}`).toBe('approved_offline');
      if (outcome.kind === 'approved_offline') {
        expect(outcome.receipt).toMatchObject({
          terminalId: rig.tills[s.till]!.terminalId,
          total: { minor: s.minor, currency: 'EUR' },
        });
        approved.push({ ...s, receipt: outcome.receipt });
      }
    }
    const offlineMs = Date.now() - started;
    expect(approved).toHaveLength(27);
    expect(declined).toHaveLength(3);
    for (const t of rig.tills)
      expect(t.offline!.status().open).toBe(approved.filter((a) => a.till === t.index).length);

    await rig.startBackend();
    const forwardStarted = Date.now();
    const reports = await Promise.all(
      rig.tills.map(async (t) => {
        await t.client.waitForReady(10_000);
        return t.offline!.forward();
      }),
    );
    const forwardMs = Date.now() - forwardStarted;
    for (const [i, report] of reports.entries()) {
      expect(report.stoppedBy).toBeNull();
      expect(report.forwarded).toHaveLength(approved.filter((a) => a.till === i).length);
      expect(rig.tills[i]!.offline!.status()).toMatchObject({ open: 0, exposureMinor: 0 });
    }
    const states = reports.flatMap((r) => r.forwarded.map((f) => f.state));
    expect(states.filter((s) => s === 'settled')).toHaveLength(26);
    expect(states.filter((s) => s === 'merchant_loss')).toHaveLength(1);
    // A second round over empty queues moves nothing.
    for (const t of rig.tills) expect((await t.offline!.forward()).forwarded).toEqual([]);

    // Exactly once, and what the ledger holds for each sale.
    const settlements = rig.query<{
      id: number;
      terminal_id: string;
      terminal_txn_id: string;
      approved: number;
      amount_minor: number;
      response: Buffer;
    }>(
      "SELECT id, terminal_id, terminal_txn_id, approved, amount_minor, response FROM settlements WHERE terminal_txn_id LIKE 'OFF-%'",
    );
    expect(settlements).toHaveLength(approved.length);
    const postings = rig.query<{ settlement_id: number; account_id: string; amount_minor: number }>(
      "SELECT p.settlement_id, p.account_id, p.amount_minor FROM postings p JOIN settlements s ON s.id = p.settlement_id WHERE s.terminal_txn_id LIKE 'OFF-%'",
    );
    for (const a of approved) {
      const card = CARDS[a.phone - 1]!;
      const rows = settlements.filter((r) => r.terminal_txn_id === a.receipt.offlineId);
      expect(rows, a.receipt.offlineId).toHaveLength(1);
      const row = rows[0]!;
      expect(row.terminal_id).toBe(rig.tills[a.till]!.terminalId);
      expect(row.amount_minor).toBe(a.minor);
      const signed = Receipt.decode(SettleResponse.decode(row.response).receipt!.receipt);
      expect(signed).toMatchObject({
        offline: true,
        terminalTxnId: a.receipt.offlineId,
        total: a.receipt.total,
        atc: a.receipt.atc,
        maskedPan: a.receipt.maskedPan,
      });
      // The till heard the card company's word when it forwarded the sale: the signed receipt of a
      // settled sale; the cashier's alert naming the reason for the merchant's loss.
      const heard = rig.tills[a.till]!.events.filter(
        (e) =>
          (e.type === 'receipt' && e.receipt.terminalTxnId === a.receipt.offlineId) ||
          (e.type === 'error' && e.message.includes(a.receipt.offlineId)),
      );
      const own = postings.filter((p) => p.settlement_id === row.id);
      if (a.phone === BLOCKED) {
        expect(heard).toEqual([
          expect.objectContaining({
            type: 'error',
            code: 'offline_loss',
            message: expect.stringContaining('card blocked'),
          }),
        ]);
        expect(row.approved).toBe(0);
        expect(signed).toMatchObject({ result: 'declined', lossReason: 'card_blocked' });
        expect(own).toEqual([]);
      } else {
        expect(heard).toEqual([
          expect.objectContaining({
            type: 'receipt',
            receipt: expect.objectContaining({ result: 'approved', atc: a.receipt.atc }),
          }),
        ]);
        expect(row.approved).toBe(1);
        expect(signed.result).toBe('approved');
        expect(own.map((p) => p.amount_minor).sort((x, y) => x - y)).toEqual([-a.minor, a.minor]);
        expect(own.find((p) => p.amount_minor < 0)!.account_id).toBe(`acct-${card.id}`);
      }
    }
    expect(postings).toHaveLength(2 * 26);
    const sums = rig.query<{ currency: string; s: number }>(
      'SELECT currency, SUM(amount_minor) AS s FROM postings GROUP BY currency',
    );
    expect(sums.every((r) => r.s === 0)).toBe(true);
    const losses = rig.query<{ n: number; reason: string }>(
      "SELECT COUNT(*) AS n, loss_reason AS reason FROM offline_sales WHERE outcome = 'merchant_loss' GROUP BY loss_reason",
    );
    expect(losses).toEqual([{ n: 1, reason: 'card_blocked' }]);

    // Phones fetch the card company's confirmed receipt, the card proving itself.
    const shopper = /shopper listener on (\S+)/.exec(rig.nodeOutput(0))?.[1];
    expect(shopper).toBeDefined();
    const backend = new GrpcShopperBackend({
      address: shopper!,
      backendCa: Buffer.from(rig.seed.trust.backendTlsCa!),
    });
    const fetchStarted = Date.now();
    try {
      const asked = [approved[0]!, approved[13]!, approved[26]!, approved.find((a) => a.phone === BLOCKED)!];
      for (const a of asked) {
        const confirmed = await confirmOfflineSale({
          backend,
          card: await rig.card(CARDS[a.phone - 1]!.id),
          trust: rig.trust,
          ticket: {
            terminalId: a.receipt.terminalId,
            offlineId: a.receipt.offlineId,
            ...(a.receipt.total ? { total: a.receipt.total } : {}),
            atc: a.receipt.atc,
          },
        });
        if (a.phone === BLOCKED)
          expect(confirmed).toMatchObject({ kind: 'merchant_loss', lossReason: 'card_blocked' });
        else
          expect(confirmed).toMatchObject({
            kind: 'settled',
            receipt: { offline: true, terminalTxnId: a.receipt.offlineId, total: a.receipt.total },
          });
      }
      // Another phone's card cannot fetch it.
      await expect(
        confirmOfflineSale({
          backend,
          card: await rig.card(CARDS[1]!.id),
          trust: rig.trust,
          ticket: { terminalId: approved[0]!.receipt.terminalId, offlineId: approved[0]!.receipt.offlineId },
        }),
      ).rejects.toThrow(/authorization_invalid/);
    } finally {
      backend.close();
    }
    const fetchMs = Date.now() - fetchStarted;

    // The shopper's CLI: the command `pay` prints for an offline approval.
    const a = approved[5]!;
    const cli = await runCli(PHONE_SIM_CLI, [
      'receipt',
      '--terminal',
      a.receipt.terminalId,
      '--offline-id',
      a.receipt.offlineId,
      '--amount',
      (a.minor / 100).toFixed(2),
      '--atc',
      String(a.receipt.atc),
      '--backend',
      shopper!,
      '--trust',
      join(rig.dir, 'trust.json'),
      '--card-file',
      rig.cardFile(CARDS[a.phone - 1]!.id),
      '--json',
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({
      confirmation: 'settled',
      outcome: 'approved',
      charged: 'yes',
      receipt: { terminalTxnId: a.receipt.offlineId, total: { minor: a.minor, currency: 'EUR' } },
    });

    process.stdout.write(
      `${JSON.stringify({ bench: 'e2e_offline_scale', value: approved.length, unit: 'payments', tills: 3, phones: PHONES, declinedOffline: declined.length, settled: 26, merchantLoss: 1, postings: postings.length, offlineMs, forwardMs, confirmedFetches: 4, fetchMs, wallMs: Date.now() - started })}\n`,
    );
  }, 600_000);
});
