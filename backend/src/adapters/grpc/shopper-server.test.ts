/**
 * The shopper-facing listener on a real grpc-js server (server-authenticated TLS), over a SQLite
 * file and over a PostgreSQL database: temporary codes issued to a proven card and PIN, redeemed by a till over mutual
 * TLS exactly once; merchant-card payments are in tests/e2e.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Metadata,
  credentials,
  makeGenericClientConstructor,
  status,
  type ServiceError,
} from '@grpc/grpc-js';
import {
  ShopperClient,
  ShopperService,
  codePinContext,
  maskPan,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  verifyReceipt,
  type IssueCodeResponse,
  type Item,
} from '@bluetill/protocol';
import {
  fixtureStores,
  shopperClients,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { createBackendCa } from '../../admin/tls-material';

let f: StoreFixture;
let offsetMs = 0;
afterAll(stopStoreServers, 30_000);

async function issue(cardId: string, pin: string, limitMinor: number): Promise<IssueCodeResponse> {
  const card = f.card(cardId);
  const ch = await f.shopper.challenge();
  const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
  const pinKey = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
  const sealed = sealPin({
    pin,
    pan: card.p.pan,
    pinKey: pinKey.publicKey,
    pinKeyId: pinKey.subjectId,
    context: codePinContext(ch.unpredictableNumber),
  });
  return f.shopper.issueCode({
    unpredictableNumber: ch.unpredictableNumber,
    card: card.cardData(ch.unpredictableNumber),
    sealedPinBlock: sealed,
    amountLimit: { minor: limitMinor, currency: 'EUR' },
  });
}

const items = (minor: number): Item[] => [
  { sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: minor },
];
const sale = (txn: string, code: string, minor: number) => ({
  terminalId: 'T-0001',
  terminalTxnId: txn,
  merchantId: 'M-0001',
  code,
  amount: { minor, currency: 'EUR' },
  items: items(minor),
});

describe.each(fixtureStores)('the shopper listener over %s', (store) => {
  beforeAll(async () => {
    offsetMs = 0;
    f = await startBackendFixture({
      store,
      clock: { now: () => Date.now() + offsetMs },
      shopper: { codesPerCardPerMinute: 50 },
    });
  }, 120_000);
  afterAll(async () => f?.close());

  describe('Shopper listener: temporary codes', () => {
    it('issues an 8-digit code to a proven card and PIN; the till pays with it once; a retry returns the first result', async () => {
      const issued = await issue('card-alice', '1234', 30_00);
      expect(issued).toMatchObject({
        approved: true,
        declineReason: '',
        amountLimit: { minor: 30_00, currency: 'EUR' },
        maskedPan: maskPan('6799990100000000019'),
      });
      expect(issued.code).toMatch(/^\d{8}$/);
      expect(issued.expiresAtMs - Date.now()).toBeGreaterThan(4 * 60_000);
      expect(issued.expiresAtMs - Date.now()).toBeLessThanOrEqual(5 * 60_000 + 1000);
      // Only a keyed hash is stored.
      const stored = await f.select<{ h: string }>('SELECT code_hash AS h FROM temporary_codes');
      expect(stored.some((r) => r.h.includes(issued.code))).toBe(false);

      const res = await f.settleWithCode(sale('code-1', issued.code, 12_50));
      expect(res).toMatchObject({ approved: true, declineReason: '', replayed: false });
      const receipt = verifyReceipt(
        res.receipt!,
        publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
        Date.now(),
      );
      expect(receipt).toMatchObject({
        result: 'approved',
        maskedPan: maskPan('6799990100000000019'),
        terminalId: 'T-0001',
        total: { minor: 12_50, currency: 'EUR' },
      });
      const again = await f.settleWithCode(sale('code-1', issued.code, 12_50));
      expect(again).toMatchObject({ approved: true, replayed: true });
      expect(again.receipt!.receipt).toEqual(res.receipt!.receipt);
      expect(await f.getSettlement('T-0001', 'code-1')).toMatchObject({ approved: true });
      expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
      expect(await f.backend.store.read((tx) => tx.accountBalance('acct-card-alice'))).toBe(-12_50);

      const reuse = await f.settleWithCode(sale('code-2', issued.code, 1_00));
      expect(reuse).toMatchObject({ approved: false, declineReason: 'code_used' });
      expect(await f.backend.store.read((tx) => tx.accountBalance('acct-card-alice'))).toBe(-12_50);
    });

    it('refuses a sale over the code limit (the code stays usable), a wrong code (counted), a wrong PIN (no code) and an expired code', async () => {
      const issued = await issue('card-chen', '9876', 10_00);
      expect(await f.settleWithCode(sale('code-3', issued.code, 10_01))).toMatchObject({
        approved: false,
        declineReason: 'code_limit_exceeded',
      });
      const wrong = issued.code === '00000000' ? '00000001' : '00000000';
      const before = await f.count('code_attempts');
      expect(await f.settleWithCode(sale('code-4', wrong, 5_00))).toMatchObject({
        approved: false,
        declineReason: 'code_invalid',
      });
      expect(await f.count('code_attempts')).toBe(before + 1);
      expect(await f.settleWithCode(sale('code-5', issued.code, 10_00))).toMatchObject({ approved: true });

      const badPin = await issue('card-bob', '0000', 10_00);
      expect(badPin).toMatchObject({
        approved: false,
        declineReason: 'pin_incorrect',
        code: '',
        pinTriesLeft: 2,
      });
      expect((await issue('card-bob', '2580', 10_00)).approved).toBe(true); // a right PIN resets the tries

      const late = await issue('card-bob', '2580', 10_00);
      offsetMs = 5 * 60_000 + 1;
      try {
        expect(await f.settleWithCode(sale('code-6', late.code, 5_00))).toMatchObject({
          approved: false,
          declineReason: 'code_expired',
        });
      } finally {
        offsetMs = 0;
      }
      expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
    });

    it('the same code keyed in at two tills at once pays exactly one sale', async () => {
      const issued = await issue('card-alice', '1234', 5_00);
      const before = await f.backend.store.read((tx) => tx.accountBalance('acct-card-alice'));
      const [a, b] = await Promise.all([
        f.settleWithCode(sale('race-a', issued.code, 2_00)),
        f
          .clientFor(f.credentialsFor('T-0002'))
          .settleWithCode({ ...sale('race-b', issued.code, 2_00), terminalId: 'T-0002' }),
      ]);
      expect([a.approved, b.approved].sort()).toEqual([false, true]);
      expect([a.declineReason, b.declineReason].sort()).toEqual(['', 'code_used']);
      expect(await f.backend.store.read((tx) => tx.accountBalance('acct-card-alice'))).toBe(before - 2_00);
      expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
    });

    it('answers malformed and out-of-range requests with INVALID_ARGUMENT, and a phone cannot reach it over plaintext or without the CA', async () => {
      const err = await f.shopper
        .issueCode({
          unpredictableNumber: new Uint8Array(3),
          sealedPinBlock: new Uint8Array(),
          card: undefined,
          amountLimit: undefined,
        })
        .catch((e: ServiceError) => e);
      expect((err as ServiceError).code).toBe(status.INVALID_ARGUMENT);
      const code = await f.settleWithCode({ ...sale('code-7', '1234', 1_00) }).catch((e: ServiceError) => e);
      expect((code as ServiceError).code).toBe(status.INVALID_ARGUMENT);
      const raw = new ShopperClient(f.shopperAddress, credentials.createInsecure());
      const plain = await new Promise<ServiceError | null>((r) =>
        raw.challenge({}, new Metadata(), { deadline: Date.now() + 3000 }, (e) => r(e)),
      );
      raw.close();
      expect(plain?.code).toBe(status.UNAVAILABLE);
      const foreign = shopperClients(f.shopperAddress, Buffer.from((await createBackendCa()).cert));
      await expect(foreign.challenge()).rejects.toMatchObject({ code: status.UNAVAILABLE });
      foreign.close();
      expect(await f.shopper.challenge()).toMatchObject({ unpredictableNumber: expect.any(Uint8Array) });
    });
  });

  describe('Shopper listener: limits', () => {
    let g: StoreFixture;
    beforeAll(async () => {
      g = await startBackendFixture({ store, shopper: { codesPerCardPerMinute: 2 } });
    });
    afterAll(async () => g?.close());

    async function issueOn(fx: StoreFixture, cardId: string, pin: string) {
      const card = fx.card(cardId);
      const ch = await fx.shopper.challenge();
      const pinKey = verifyCertificate(
        ch.pinKeyCertificate,
        publicKeyFromRaw(Buffer.from(fx.seed.trust.cardCompanyRoot, 'base64')),
        { role: 'pin-key', now: Date.now() },
      );
      const sealed = sealPin({
        pin,
        pan: card.p.pan,
        pinKey: pinKey.publicKey,
        pinKeyId: pinKey.subjectId,
        context: codePinContext(ch.unpredictableNumber),
      });
      return fx.shopper.issueCode({
        unpredictableNumber: ch.unpredictableNumber,
        card: card.cardData(ch.unpredictableNumber),
        sealedPinBlock: sealed,
        amountLimit: { minor: 10_00, currency: 'EUR' },
      });
    }

    it('limits code requests per card (RESOURCE_EXHAUSTED); other cards are served', async () => {
      expect((await issueOn(g, 'card-alice', '1234')).approved).toBe(true);
      expect((await issueOn(g, 'card-alice', '1234')).approved).toBe(true);
      await expect(issueOn(g, 'card-alice', '1234')).rejects.toMatchObject({
        code: status.RESOURCE_EXHAUSTED,
      });
      expect((await issueOn(g, 'card-chen', '9876')).approved).toBe(true);
    });

    it("stops taking codes at a merchant's tills after 10 wrong ones in 10 minutes, even the right one (code_attempts_exceeded)", async () => {
      const good = await issueOn(g, 'card-chen', '9876');
      // Spread over the merchant's three tills, under the per-till limit (5) at each.
      const tills = ['T-0001', 'T-0002', 'T-0003'].map((t) => ({
        t,
        c: t === 'T-0001' ? g : g.clientFor(g.credentialsFor(t)),
      }));
      for (let i = 0; i < 10; i++) {
        const wrong = String(10_000_000 + i) === good.code ? '19999999' : String(10_000_000 + i);
        const { t, c } = tills[i % 3]!;
        expect(
          await c.settleWithCode({ ...sale(`guess-${i}`, wrong, 1_00), terminalId: t }),
          `guess ${i}`,
        ).toMatchObject({ declineReason: 'code_invalid' });
      }
      expect(await g.settleWithCode(sale('guess-right', good.code, 1_00))).toMatchObject({
        approved: false,
        declineReason: 'code_attempts_exceeded',
      });
      expect(await g.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
    });

    it('answers bytes that are not the message with INVALID_ARGUMENT on every Shopper method, and keeps serving', async () => {
      const identity = (b: Buffer): Buffer => b;
      const paths = Object.values(ShopperService).map((m) => m.path);
      const Raw = makeGenericClientConstructor(
        Object.fromEntries(
          paths.map((path) => [
            path,
            {
              path,
              requestStream: false,
              responseStream: false,
              requestSerialize: identity,
              requestDeserialize: identity,
              responseSerialize: identity,
              responseDeserialize: identity,
            },
          ]),
        ),
        'Raw',
      );
      const client = new Raw(
        g.shopperAddress,
        credentials.createSsl(Buffer.from(g.seed.trust.backendTlsCa!)),
      ) as unknown as Record<string, (b: Buffer, cb: (e: ServiceError | null) => void) => void>;
      const truncated = Buffer.from([0x0a, 0x50, 0x01, 0x02]);
      for (const path of paths) {
        const code = await new Promise<number>((resolve) =>
          client[path]!(truncated, (e) => resolve(e?.code ?? status.OK)),
        );
        expect(code, path).toBe(status.INVALID_ARGUMENT);
      }
      (client as unknown as { close(): void }).close();
      expect((await g.shopper.challenge()).unpredictableNumber).toHaveLength(4);
    });
  });
});
