/**
 * Settlement.Cancel (and its relay on the Authorization service): a till ends a payment before
 * settling it. Real grpc-js server over mutual TLS, over a SQLite file and over a PostgreSQL database: the edge's checks, the
 * caller check, the signed decline or cancellation with the cryptogram's ATC, the authorization
 * and the ATC used up (nothing of the payment settles later), exactly once per transaction id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type ServiceError } from '@grpc/grpc-js';
import {
  AuthorizationClient,
  SettlementClient,
  publicKeyFromRaw,
  verifyReceipt,
  type CancelRequest,
  type Item,
  type Money,
  type SettleResponse,
} from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import type { TestCard } from '../../test-support/test-card';

let f: StoreFixture;
let auth: AuthorizationClient;
let settlement: SettlementClient;
afterAll(stopStoreServers, 30_000);

const tea: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const eur = (minor: number): Money => ({ minor, currency: 'EUR' });
const call = (c: AuthorizationClient | SettlementClient, req: CancelRequest) =>
  new Promise<SettleResponse>((resolve, reject) =>
    c.cancel(req, (e: ServiceError | null, r: SettleResponse) => (e ? reject(e) : resolve(r))),
  );
const root = () => publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
const lastAtc = async (cardId: string) =>
  (await f.backend.store.read((tx) => tx.findCardById(cardId)))!.lastAtc;
const findSettlement = (txn: string) => f.backend.store.read((tx) => tx.findSettlement('T-0001', txn));

async function authorized(
  cardId: string,
  pin: string,
): Promise<{ card: TestCard; un: Uint8Array; ref: string }> {
  const card = f.card(cardId);
  const a = await f.authorizeCard(card, pin);
  expect(a.res.approved).toBe(true);
  return { card, un: a.un, ref: a.res.authorizationRef };
}

const cancelReq = (
  p: { card: TestCard; un: Uint8Array; ref: string },
  txn: string,
  over: Partial<CancelRequest> = {},
): CancelRequest => ({
  terminalId: 'T-0001',
  terminalTxnId: txn,
  merchantId: 'M-0001',
  authorizationRef: p.ref,
  card: { ...p.card.cardData(p.un), records: new Uint8Array(), signedDynamicData: new Uint8Array() },
  amount: eur(700),
  items: tea,
  cryptogram: p.card.arqc(eur(700), p.un),
  reason: 'amount_mismatch',
  ...over,
});

describe.each(fixtureStores)('Cancel over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
    const address = f.backend.address.replace(/^127\.0\.0\.1:/, 'localhost:');
    auth = new AuthorizationClient(address, f.credentialsFor('T-0001'));
    settlement = new SettlementClient(address, f.credentialsFor('T-0002'));
  }, 120_000);
  afterAll(() => {
    auth?.close();
    settlement?.close();
    return f?.close();
  });

  describe('Cancel', () => {
    it("refuses a reason that is not a till's, and another terminal's request, storing nothing", async () => {
      const p = await authorized('card-alice', '1234');
      await expect(call(auth, cancelReq(p, 'c-bad', { reason: 'insufficient_funds' }))).rejects.toMatchObject(
        {
          code: status.INVALID_ARGUMENT,
          details: expect.stringContaining('reason'),
        },
      );
      await expect(call(settlement, cancelReq(p, 'c-other'))).rejects.toMatchObject({
        code: status.PERMISSION_DENIED,
      });
      expect(await findSettlement('c-bad')).toBeUndefined();
      expect(await findSettlement('c-other')).toBeUndefined();
    });

    it("signs the decline with the cryptogram's ATC, uses up the authorization and the ATC; a retry is the same answer", async () => {
      const p = await authorized('card-alice', '1234');
      const req = cancelReq(p, 'c-mismatch');
      const res = await call(auth, req);
      expect(res).toMatchObject({ approved: false, declineReason: 'amount_mismatch', replayed: false });
      const receipt = verifyReceipt(res.receipt!, root(), Date.now());
      expect(receipt).toMatchObject({
        result: 'declined',
        declineReason: 'amount_mismatch',
        terminalTxnId: 'c-mismatch',
        atc: req.cryptogram!.atc,
        total: eur(700),
      });
      expect(await lastAtc('card-alice')).toBe(req.cryptogram!.atc);
      expect(await call(auth, req)).toMatchObject({
        approved: false,
        declineReason: 'amount_mismatch',
        replayed: true,
      });
      // The same cryptogram and authorization, settled anyway: under the same id (already there), under another (used up).
      await expect(
        f.settle({
          terminalId: 'T-0001',
          terminalTxnId: 'c-mismatch',
          merchantId: 'M-0001',
          authorizationRef: p.ref,
          card: p.card.cardData(p.un),
          amount: eur(700),
          items: tea,
          cryptogram: req.cryptogram,
        }),
      ).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
      expect(
        await f.settle({
          terminalId: 'T-0001',
          terminalTxnId: 'c-mismatch-2',
          merchantId: 'M-0001',
          authorizationRef: p.ref,
          card: p.card.cardData(p.un),
          amount: eur(700),
          items: tea,
          cryptogram: req.cryptogram,
        }),
      ).toMatchObject({ approved: false, declineReason: 'authorization_invalid' });
      expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
    });

    it('a cashier\'s cancellation without a cryptogram is signed "cancelled" (ATC 0); a settled payment stays settled', async () => {
      const p = await authorized('card-bob', '2580');
      const res = await call(auth, cancelReq(p, 'c-cashier', { cryptogram: undefined, reason: 'cancelled' }));
      expect(verifyReceipt(res.receipt!, root(), Date.now())).toMatchObject({
        result: 'cancelled',
        declineReason: 'cancelled',
        atc: 0,
      });
      const q = await authorized('card-bob', '2580');
      const paid = await f.settle({
        terminalId: 'T-0001',
        terminalTxnId: 'c-paid',
        merchantId: 'M-0001',
        authorizationRef: q.ref,
        card: q.card.cardData(q.un),
        amount: eur(700),
        items: tea,
        cryptogram: q.card.arqc(eur(700), q.un),
      });
      expect(paid.approved).toBe(true);
      expect(
        await call(auth, cancelReq(q, 'c-paid', { cryptogram: undefined, reason: 'cancelled' })),
      ).toMatchObject({ approved: true, replayed: true });
    });
  });
});
