/**
 * What the till keeps, through the cashier host over a real journal, catalog and receipt store
 * (SQLite files), with no radio and a payment network that answers lookups as told: a till that
 * stops without cleaning up (a crash, a power switch) and starts again on the same files; the
 * day's history around midnight in the shop's time zone.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SettleResponse } from '@bluetill/protocol';
import { Till } from '../../pos-terminal/src/common/till';
import type { BackendClient } from '../../pos-terminal/src/common/ports/backend-client';
import type { BasketView, DraftView } from '../../pos-terminal/src/common/ipc/view-models';
import { SqliteJournal } from '../../pos-terminal/src/adapters/journal/journal.sqlite';
import { SqliteCatalog } from '../../pos-terminal/src/adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { SMALL_RECEIPT } from '../../pos-terminal/src/adapters/receipt/receipt.fixture';
import type { ReceiptView } from '../../pos-terminal/src/common/ipc/view-models';
import { CashierHost } from '../../pos-terminal/src/host/cashier-host';
import { NoBlePeripheral } from '../../pos-terminal/src/adapters/ble/no-ble-peripheral';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const dirs: string[] = [];
const running: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const stop of running.splice(0)) await stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A till on the files in `dir`; `settled`: what the network says about an attempt it is asked about. */
async function startTill(
  dir: string,
  settled: (txn: string) => SettleResponse | null = () => null,
  more: { clock?: { now(): number }; timeZone?: string } = {},
) {
  const journal = new SqliteJournal(join(dir, 'journal.sqlite'), { key: new Uint8Array(32).fill(9) });
  const catalog = new SqliteCatalog(join(dir, 'till.sqlite'));
  const receipts = new SqliteReceiptStore(join(dir, 'till.sqlite'));
  catalog.upsert({ sku: 'tea', barcode: null, name: 'Green tea', priceMinor: 350 });
  catalog.upsert({ sku: 'cake', barcode: null, name: 'Cake', priceMinor: 420 });
  let batch = 0;
  const closeBatch = async () => ({
    batchId: ++batch,
    openedAtMs: 0,
    closedAtMs: Date.now(),
    totals: undefined,
  });
  const backend = {
    getSettlement: async (txn: string) => settled(txn),
    probe: async () => undefined,
    closeBatch,
  } as unknown as BackendClient;
  const till = new Till({
    terminalId: 'T-1',
    merchantId: 'M-1',
    counterName: 'Counter 1',
    currency: 'EUR',
    identity: { terminalKey: privateKey, terminalCertificate: new Uint8Array(), merchantName: 'Shop' },
    peripheral: new NoBlePeripheral(),
    backend,
    journal,
    basketStore: journal,
    resolveEveryMs: 0,
  });
  await till.start();
  const host = new CashierHost({ till, catalog, receipts, probeEveryMs: 0, autoPrint: false, ...more });
  let gone = false;
  /** The process dies: no clean shutdown of the host, the files are simply closed. */
  const crash = async () => {
    if (gone) return;
    gone = true;
    await till.stop();
    journal.close();
    catalog.close();
    receipts.close();
  };
  running.push(async () => {
    if (!gone) await host.close();
    await crash();
  });
  const call = <T>(channel: string, payload: unknown = {}) => host.invoke(channel, payload) as Promise<T>;
  return { host, till, journal, receipts, call, crash };
}

const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'bluetill-restart-'));
  dirs.push(d);
  return d;
};
const number = (id: string) => Number(id.replace(/^B-/, ''));

describe('a till restart', () => {
  it('lost the waiting baskets and the sale being rung up, and numbered new baskets from B-0001 again — was a bug', async () => {
    const dir = fresh();
    const a = await startTill(dir);
    await a.call('draft:add', { sku: 'tea', quantity: 2 });
    const first = await a.call<BasketView>('basket:charge');
    await a.call('draft:add', { sku: 'cake' });
    await a.call('draft:add', { sku: 'tea' });
    const second = await a.call<BasketView>('basket:charge');
    await a.call('draft:add', { sku: 'cake', quantity: 3 });
    await a.crash();

    const b = await startTill(dir);
    const snap = b.host.snapshot();
    expect(snap.baskets.map((x) => x.status)).toEqual(['open', 'open']);
    expect(b.till.baskets.list().map((x) => ({ id: x.id, state: x.state, total: x.total.minor }))).toEqual([
      { id: first.id, state: 'open', total: 700 },
      { id: second.id, state: 'open', total: 770 },
    ]);
    expect(b.till.baskets.get(second.id)?.items).toEqual([
      { sku: 'cake', name: 'Cake', quantity: 1, unitPriceMinor: 420 },
      { sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 350 },
    ]);
    expect(snap.draft).toMatchObject({ totalMinor: 1260, lines: [{ sku: 'cake', quantity: 3 }] });
    const third = await b.call<BasketView>('basket:charge');
    expect(number(third.id)).toBeGreaterThan(Math.max(number(first.id), number(second.id)));
    expect(b.host.snapshot().draft.lines).toEqual([]);
  });

  it('a basket whose payment was with the network at the crash comes back paid if the attempt was approved, else waiting (never paid twice, never lost)', async () => {
    const dir = fresh();
    const a = await startTill(dir);
    await a.call('draft:add', { sku: 'tea' });
    const paid = await a.call<BasketView>('basket:charge');
    await a.call('draft:add', { sku: 'cake' });
    const declined = await a.call<BasketView>('basket:charge');
    await a.journal.begin({
      terminalTxnId: 'T-1-paid',
      basketId: paid.id,
      request: new Uint8Array([1]),
      at: 1,
      amountMinor: 350,
      maskedPan: '',
    });
    await a.journal.begin({
      terminalTxnId: 'T-1-declined',
      basketId: declined.id,
      request: new Uint8Array([2]),
      at: 1,
      amountMinor: 420,
      maskedPan: '',
    });
    await a.crash();

    const answers: Record<string, SettleResponse> = {
      'T-1-paid': { approved: true, declineReason: '', receipt: undefined, replayed: false },
      'T-1-declined': {
        approved: false,
        declineReason: 'insufficient_funds',
        receipt: undefined,
        replayed: false,
      },
    };
    const b = await startTill(dir, (txn) => answers[txn] ?? null);
    expect(b.host.snapshot().baskets.map((x) => x.id)).toEqual([declined.id]);
    expect(b.till.baskets.get(paid.id)?.state).toBe('paid');
    await b.crash();
    // Once known paid, it stays paid: not waiting again after the next restart.
    const c = await startTill(dir);
    expect(c.host.snapshot().baskets.map((x) => x.id)).toEqual([declined.id]);
  });

  it('"take back" threw the basket away; now its items return to the sale (merged), to change and charge again — was a bug', async () => {
    const dir = fresh();
    const a = await startTill(dir);
    await a.call('draft:add', { sku: 'tea', quantity: 2 });
    const basket = await a.call<BasketView>('basket:charge');
    await a.call('draft:add', { sku: 'tea' });
    await a.call('basket:cancel', { basketId: basket.id });
    const snap = a.host.snapshot();
    expect(snap.baskets).toEqual([]);
    expect(snap.draft).toMatchObject({ totalMinor: 1050, lines: [{ sku: 'tea', quantity: 3 }] });
    await a.crash();
    const b = await startTill(dir);
    expect((b.host.snapshot().draft as DraftView).lines).toMatchObject([{ sku: 'tea', quantity: 3 }]);
    expect(b.host.snapshot().baskets).toEqual([]);
  });
});

describe("the day's history", () => {
  const at = (iso: string) => Date.parse(iso);

  it('emptied at midnight UTC, in any zone: a sale minutes old could not be found to reprint or refund — was a bug', async () => {
    for (const [zone, before, after] of [
      ['America/New_York', '2026-12-07T18:55:00-05:00', '2026-12-07T19:05:00-05:00'], // midnight UTC falls in the shop's evening
      ['Europe/Berlin', '2026-12-07T00:55:00+01:00', '2026-12-07T01:05:00+01:00'],
    ] as const) {
      const now = { t: at(after) };
      const a = await startTill(fresh(), undefined, { clock: { now: () => now.t }, timeZone: zone });
      a.receipts.save({ ...SMALL_RECEIPT, terminalTxnId: 'T-1-evening', issuedAtMs: at(before) }, null);
      a.receipts.save(
        { ...SMALL_RECEIPT, terminalTxnId: 'T-1-yesterday', issuedAtMs: at(before) - 24 * 3600_000 },
        null,
      );
      const today = await a.call<ReceiptView[]>('receipt:history', {});
      expect(today.map((r) => r.terminalTxnId)).toEqual(['T-1-evening']);
    }
  });

  it("at the shop's midnight a new day starts; the sale of 23:55 is found after it, by the day or by words", async () => {
    for (const zone of ['Europe/Berlin', 'America/New_York']) {
      const offset = zone === 'Europe/Berlin' ? '+01:00' : '-05:00';
      const now = { t: at(`2026-12-07T23:55:00${offset}`) };
      const a = await startTill(fresh(), undefined, { clock: { now: () => now.t }, timeZone: zone });
      a.receipts.save({ ...SMALL_RECEIPT, terminalTxnId: 'T-1-late', issuedAtMs: now.t }, null);
      expect((await a.call<ReceiptView[]>('receipt:history', {})).map((r) => r.terminalTxnId)).toEqual([
        'T-1-late',
      ]);
      now.t = at(`2026-12-08T00:05:00${offset}`);
      expect(await a.call<ReceiptView[]>('receipt:history', {})).toEqual([]); // a new business day
      expect(
        (await a.call<ReceiptView[]>('receipt:history', { date: '2026-12-07' })).map((r) => r.terminalTxnId),
      ).toEqual(['T-1-late']);
      expect(await a.call<ReceiptView[]>('receipt:history', { date: '2026-12-08' })).toEqual([]);
      expect(
        (await a.call<ReceiptView[]>('receipt:history', { query: 'T-1-late' })).map((r) => r.terminalTxnId),
      ).toEqual(['T-1-late']);
    }
  });
});

describe('closing the day', () => {
  it('twice with nothing sold in between made an empty batch; now the second close is refused with a clear message — was a bug', async () => {
    const a = await startTill(fresh());
    expect(await a.call('batch:close')).toMatchObject({ batchId: 1 });
    await expect(a.call('batch:close')).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/Nothing was sold, refunded or voided since the day was last closed/),
    });
    await new Promise((r) => setTimeout(r, 5));
    a.receipts.save({ ...SMALL_RECEIPT, terminalTxnId: 'T-1-next', issuedAtMs: Date.now() }, null);
    expect(await a.call('batch:close')).toMatchObject({ batchId: 2 });
  });
});
