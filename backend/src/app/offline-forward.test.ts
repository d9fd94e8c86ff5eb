/**
 * Settlement.ForwardOffline over a real backend (mutual TLS on loopback, over a SQLite file and over
 * a PostgreSQL database): a till's
 * offline sale settles exactly once, or is recorded as the merchant's loss with its reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ForwardOfflineRequest } from '@bluetill/protocol';
import {
  Receipt,
  SettleResponse,
  SettlementClient,
  callDeclinable,
  demoOfflineTc,
  publicKeyFromRaw,
  verifyReceipt,
  type Money,
  type OfflineTcEvidence,
} from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../test-support/backend-fixture';
import { SqliteOfflineSaleStore } from '../adapters/sqlite/offline-sale-store.sqlite';
import { SqliteBackendStore } from '../adapters/sqlite/backend-store.sqlite';
import { PostgresOfflineSaleStore } from '../adapters/postgres/offline-sale-store.postgres';

let f: StoreFixture;
let clients: Map<string, SettlementClient>;

afterAll(stopStoreServers, 30_000);

const client = (terminalId: string) => {
  let c = clients.get(terminalId);
  if (!c)
    clients.set(
      terminalId,
      (c = new SettlementClient(
        f.backend.address.replace(/^127\.0\.0\.1:/, 'localhost:'),
        f.credentialsFor(terminalId),
      )),
    );
  return c;
};
const forward = (req: ForwardOfflineRequest, as = 'T-0001'): Promise<SettleResponse> =>
  callDeclinable((cb) => client(as).forwardOffline(req, cb), SettleResponse.decode);

const yymmdd = (ms: number) => new Date(ms).toISOString().slice(2, 10).replaceAll('-', '');
let un = 0x10000000;
let atcs = 100;
function sale(
  cardId: string,
  o: {
    minor?: number;
    approvedAtMs?: number;
    offlineId?: string;
    atc?: number;
    forwardedMinor?: number;
  } = {},
): { req: ForwardOfflineRequest; evidence: OfflineTcEvidence } {
  const minor = o.minor ?? 350;
  const approvedAtMs = o.approvedAtMs ?? Date.now() - 60_000;
  const amount: Money = { minor, currency: 'EUR' };
  const u = un++;
  const evidence = demoOfflineTc(f.card(cardId).p, {
    amount,
    unpredictableNumber: Uint8Array.of(u >>> 24, (u >>> 16) & 0xff, (u >>> 8) & 0xff, u & 0xff),
    atc: o.atc ?? atcs++,
    date: yymmdd(approvedAtMs),
  });
  const forwardedMinor = o.forwardedMinor ?? minor;
  return {
    evidence,
    req: {
      terminalId: 'T-0001',
      offlineId: o.offlineId ?? `OFF-T-0001-${u}`,
      merchantId: 'M-0001',
      tc: evidence,
      amount: { minor: forwardedMinor, currency: 'EUR' },
      items: [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: forwardedMinor }],
      approvedAtMs,
    },
  };
}
const receiptOf = (r: SettleResponse) => Receipt.decode(r.receipt!.receipt);
const ledger = () => f.backend.store.read((tx) => tx.ledgerSumsByCurrency());
const offlineRows = () =>
  f.backend.store.read((tx) => {
    const store = f.backend.store;
    return (
      store instanceof SqliteBackendStore
        ? new SqliteOfflineSaleStore(store.db)
        : new PostgresOfflineSaleStore()
    )
      .within(tx)
      .listOfflineSales(undefined, 0, Date.now() + 60_000);
  });

describe.each(fixtureStores)('Settlement.ForwardOffline over %s', (store) => {
  beforeAll(async () => {
    clients = new Map();
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await f?.close();
  });

  it('settles a genuine offline sale once: the same request again gets the stored answer, another under the id ALREADY_EXISTS', async () => {
    const { req } = sale('card-alice');
    const first = await forward(req);
    expect(first.approved).toBe(true);
    expect(receiptOf(first)).toMatchObject({
      result: 'approved',
      offline: true,
      lossReason: '',
      terminalTxnId: req.offlineId,
    });
    const again = await forward(req);
    expect(again.replayed).toBe(true);
    expect(Buffer.from(again.receipt!.receipt)).toEqual(Buffer.from(first.receipt!.receipt));
    await expect(forward({ ...req, approvedAtMs: req.approvedAtMs + 1 })).rejects.toMatchObject({ code: 6 });
    const found = await f.getSettlement('T-0001', req.offlineId);
    expect(Buffer.from(found.receipt!.receipt)).toEqual(Buffer.from(first.receipt!.receipt));
    const rows = (await offlineRows()).filter((r) => r.offlineId === req.offlineId);
    expect(rows).toMatchObject([{ outcome: 'settled', lossReason: null, amountMinor: 350 }]);
    expect(Object.values(await ledger()).every((v) => v === 0)).toBe(true);
  });

  it('the same TC forwarded under another offline id is the merchant loss atc_replayed, and moves no money', async () => {
    const { req } = sale('card-bob');
    expect((await forward(req)).approved).toBe(true);
    const before = await f.backend.store.read((tx) => tx.ledgerSum());
    const replay = await forward({ ...req, offlineId: `${req.offlineId}-again` });
    expect(replay.approved).toBe(false);
    expect(replay.declineReason).toBe('offline_merchant_loss');
    expect(receiptOf(replay)).toMatchObject({
      result: 'declined',
      offline: true,
      lossReason: 'atc_replayed',
    });
    expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(before);
  });

  it('each ATC once per card, in any order: an online sale authorized before a higher offline TC settles after it; its ATC again, online or offline, is atc_replayed', async () => {
    const card = f.card('card-chen');
    const onlineSale = async (txn: string, atc: number) => {
      const { un, res } = await f.authorizeCard(card, '9876');
      expect(res.approved).toBe(true);
      const amount = { minor: 210, currency: 'EUR' };
      return () =>
        f.settle({
          terminalId: 'T-0001',
          terminalTxnId: txn,
          merchantId: 'M-0001',
          authorizationRef: res.authorizationRef,
          card: card.cardData(un),
          amount,
          items: [{ sku: 'gum', name: 'Gum', quantity: 1, unitPriceMinor: amount.minor }],
          cryptogram: card.arqc(amount, un, atc),
        });
    };
    // Authorized online at ATC 4000; meanwhile the card went offline and made a TC at 5000, which
    // the till forwards and the card company settles first.
    const settleLower = await onlineSale(`atc-order-${store}-1`, 4000);
    expect((await forward(sale('card-chen', { atc: 5000 }).req)).approved).toBe(true);
    const lower = await settleLower();
    expect(lower.declineReason).toBe('');
    expect(lower.approved).toBe(true);
    // The same ATC again is a replay whichever way it comes back.
    const replayOnline = await (await onlineSale(`atc-order-${store}-2`, 4000))();
    expect(replayOnline).toMatchObject({ approved: false, declineReason: 'atc_replayed' });
    const replayOffline = await forward(sale('card-chen', { atc: 4000 }).req);
    expect(receiptOf(replayOffline)).toMatchObject({ result: 'declined', lossReason: 'atc_replayed' });
    const replayTc = await (await onlineSale(`atc-order-${store}-3`, 5000))();
    expect(replayTc).toMatchObject({ approved: false, declineReason: 'atc_replayed' });
    // A lower ATC never seen still settles (a till whose sales reach the card company late).
    expect((await forward(sale('card-chen', { atc: 4500 }).req)).approved).toBe(true);
    expect(Object.values(await ledger()).every((v) => v === 0)).toBe(true);
  });

  it("Shopper.GetOfflineReceipt: only the card that paid learns the card company's word: not forwarded (asking writes nothing), settled, the merchant's loss; another card, or a card that does not prove itself, refused", async () => {
    const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
    const ask = async (cardId: string, offlineId: string, dda?: 'another_un') => {
      const ch = await f.shopper.challenge();
      const other = dda ? (await f.shopper.challenge()).unpredictableNumber : ch.unpredictableNumber;
      return f.shopper.getOfflineReceipt({
        unpredictableNumber: ch.unpredictableNumber,
        card: f.card(cardId).cardData(other),
        terminalId: 'T-0001',
        offlineId,
      });
    };
    const { req } = sale('card-dana', { minor: 120, atc: 7000 });
    expect(await ask('card-dana', req.offlineId)).toMatchObject({
      state: 'not_forwarded',
      declineReason: '',
    });
    // GetOutcome (an online payment's question, which cancels an id it finds unsettled) never
    // closes an offline sale: the shopper cannot cancel the sale the till is still to forward.
    const ch = await f.shopper.challenge();
    const outcome = await f.shopper.getOutcome({
      unpredictableNumber: ch.unpredictableNumber,
      card: f.card('card-dana').cardData(ch.unpredictableNumber),
      terminalId: 'T-0001',
      terminalTxnId: req.offlineId,
      atc: 7000,
      amount: req.amount!,
    });
    expect(outcome).toMatchObject({
      approved: false,
      declineReason: 'authorization_invalid',
      receipt: undefined,
    });
    const forwarded = await forward(req);
    expect(forwarded.approved).toBe(true);
    expect(forwarded.replayed).toBe(false);
    const settled = await ask('card-dana', req.offlineId);
    expect(settled.state).toBe('settled');
    expect(Buffer.from(settled.receipt!.receipt)).toEqual(Buffer.from(forwarded.receipt!.receipt));
    expect(verifyReceipt(settled.receipt!, root, Date.now())).toMatchObject({
      result: 'approved',
      offline: true,
      terminalId: 'T-0001',
      terminalTxnId: req.offlineId,
      total: { minor: 120, currency: 'EUR' },
    });
    expect(await ask('card-alice', req.offlineId)).toMatchObject({
      state: 'refused',
      declineReason: 'authorization_invalid',
      receipt: undefined,
    });
    expect(await ask('card-dana', req.offlineId, 'another_un')).toMatchObject({
      state: 'refused',
      declineReason: 'card_authentication_failed',
      receipt: undefined,
    });
    const eve = sale('card-eve');
    await forward(eve.req);
    const loss = await ask('card-eve', eve.req.offlineId);
    expect(loss.state).toBe('merchant_loss');
    expect(verifyReceipt(loss.receipt!, root, Date.now())).toMatchObject({
      result: 'declined',
      declineReason: 'offline_merchant_loss',
      lossReason: 'card_blocked',
      offline: true,
    });
  });

  it('a card blocked before the sale is the merchant loss card_blocked; blocked after the sale it is settled', async () => {
    const eve = await forward(sale('card-eve').req);
    expect(receiptOf(eve)).toMatchObject({ result: 'declined', lossReason: 'card_blocked' });
    const earlier = sale('card-chen', { approvedAtMs: Date.now() - 120_000 });
    await f.registry((admin) => admin.setCardStatus('card-chen', 'stolen'));
    try {
      const later = sale('card-chen', { approvedAtMs: Date.now() + 1_000 });
      expect((await forward(earlier.req)).approved).toBe(true);
      expect(receiptOf(await forward(later.req))).toMatchObject({ lossReason: 'card_blocked' });
    } finally {
      await f.registry((admin) => admin.setCardStatus('card-chen', 'active'));
    }
  });

  it('over the card’s credit, an amount other than the card signed, or a basket that does not add up: the merchant’s loss, each with its reason', async () => {
    const over = await forward(sale('card-dana', { minor: 25_00 }).req);
    expect(receiptOf(over).lossReason).toBe('over_limit');
    const altered = await forward(sale('card-alice', { minor: 500, forwardedMinor: 50 }).req);
    expect(receiptOf(altered).lossReason).toBe('amount_mismatch');
    const { req } = sale('card-alice', { minor: 500 });
    const basket = await forward({ ...req, items: [{ ...req.items[0]!, unitPriceMinor: 400 }] });
    expect(receiptOf(basket).lossReason).toBe('items_mismatch');
    const losses = (await offlineRows())
      .filter((r) => r.outcome === 'merchant_loss')
      .map((r) => r.lossReason);
    expect(losses).toEqual(expect.arrayContaining(['over_limit', 'amount_mismatch', 'items_mismatch']));
    // card-finn's card has expired: its offline sale is the merchant's loss whatever else holds.
    expect(receiptOf(await forward(sale('card-finn').req)).lossReason).toBe('card_expired');
    expect(Object.values(await ledger()).every((v) => v === 0)).toBe(true);
  });

  it('a till may forward only its own sales, and malformed evidence is refused at the edge, nothing stored', async () => {
    const { req } = sale('card-alice');
    await expect(forward(req, 'T-0002')).rejects.toMatchObject({ code: 7 });
    await expect(forward({ ...req, tc: { ...req.tc!, response: new Uint8Array() } })).rejects.toMatchObject({
      code: 3,
    });
    // An offline id is OFF-…; an online transaction id never is (GetOutcome tells them apart).
    await expect(forward({ ...req, offlineId: req.offlineId.slice(4) })).rejects.toMatchObject({
      code: 3,
      details: expect.stringContaining('offline_id'),
    });
    expect((await offlineRows()).some((r) => r.offlineId === req.offlineId)).toBe(false);
  });
});

describe('Settlement.ForwardOffline on the use-case worker (as `serve` runs it)', () => {
  it('settles once and replays the stored answer', async () => {
    const w = await startBackendFixture({ worker: true });
    const c = new SettlementClient(
      w.backend.address.replace(/^127\.0\.0\.1:/, 'localhost:'),
      w.credentialsFor('T-0001'),
    );
    try {
      const approvedAtMs = Date.now() - 60_000;
      const amount = { minor: 420, currency: 'EUR' };
      const tc = demoOfflineTc(w.card('card-alice').p, {
        amount,
        unpredictableNumber: Uint8Array.of(9, 9, 9, 9),
        atc: 300,
        date: yymmdd(approvedAtMs),
      });
      const req: ForwardOfflineRequest = {
        terminalId: 'T-0001',
        offlineId: 'OFF-T-0001-worker-1',
        merchantId: 'M-0001',
        tc,
        amount,
        items: [{ sku: 'tea', name: 'Green tea', quantity: 1, unitPriceMinor: 420 }],
        approvedAtMs,
      };
      const call = () =>
        callDeclinable<SettleResponse>((cb) => c.forwardOffline(req, cb), SettleResponse.decode);
      const first = await call();
      expect(first).toMatchObject({ approved: true, replayed: false });
      expect(await call()).toMatchObject({ approved: true, replayed: true });
    } finally {
      c.close();
      await w.close();
    }
  });
});
