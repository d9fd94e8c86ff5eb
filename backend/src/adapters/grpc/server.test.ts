import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { publicKeyFromRaw, verifyTerminalStatement, type Item, type SettleRequest } from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import type { TestCard } from '../../test-support/test-card';

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

const items: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const amount = { minor: 700, currency: 'EUR' };
function settleReq(
  card: TestCard,
  un: Uint8Array,
  ref: string,
  txn: string,
  over: Partial<SettleRequest> = {},
  atc?: number,
): SettleRequest {
  const a = over.amount ?? amount;
  return {
    terminalId: 'T-0001',
    terminalTxnId: txn,
    merchantId: 'M-0001',
    authorizationRef: ref,
    card: card.cardData(un),
    amount: a,
    items,
    cryptogram: card.arqc(a, un, atc),
    ...over,
  };
}
const postingsOf = async (txn: string) =>
  (await f.one<{ n: number }>(
    'SELECT COUNT(*) AS n FROM postings p JOIN settlements s ON s.id = p.settlement_id WHERE s.terminal_txn_id = ?',
    txn,
  ))!.n;
const ledgerSum = () => f.backend.store.read((tx) => tx.ledgerSum());

describe.each(fixtureStores)('the gRPC servers over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(() => f.close());

  describe('authorization server', () => {
    it("signs, with each Challenge, the card company's statement for this terminal and UN (verifiable under the root)", async () => {
      const ch = await f.challenge();
      const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
      const s = verifyTerminalStatement(ch.terminalStatement, root, {
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        now: Date.now(),
      });
      expect(s.expiresAtMs).toBe(ch.expiresAtMs);
      expect(() =>
        verifyTerminalStatement(ch.terminalStatement, root, {
          terminalId: 'T-0002',
          unpredictableNumber: ch.unpredictableNumber,
          now: Date.now(),
        }),
      ).toThrow(expect.objectContaining({ code: 'wrong_terminal' }));
    });

    it('authorizes a genuine card (certificates, DDA over the UN) with the right PIN', async () => {
      const { res } = await f.authorizeCard(f.card('card-alice'), '1234');
      expect(res).toMatchObject({ approved: true, declineReason: '' });
      expect(res.authorizationRef).toMatch(/^AUTH-/);
    });

    it('declines a blocked card, and an expired card as one that did not prove itself (its certificates have expired)', async () => {
      expect((await f.authorizeCard(f.card('card-eve'), '4321')).res.declineReason).toBe('card_blocked');
      expect((await f.authorizeCard(f.card('card-finn'), '4321')).res).toMatchObject({
        declineReason: 'card_authentication_failed',
        pinTriesLeft: 0,
      });
    });

    it('declines a card whose signature covers another unpredictable number', async () => {
      const card = f.card('card-bob');
      const ch = await f.challenge();
      const data = card.cardData(Uint8Array.of(1, 2, 3, 4)); // signed over a UN the server never issued
      const res = await f.authorize({
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: new Uint8Array(),
        card: data,
      });
      expect(res.declineReason).toBe('card_authentication_failed');
    });

    it('declines card data that differs from what the card signed (expiry edited)', async () => {
      const card = f.card('card-bob');
      const ch = await f.challenge();
      const data = { ...card.cardData(ch.unpredictableNumber), expiry: '3912' };
      const res = await f.authorize({
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: new Uint8Array(),
        card: data,
      });
      expect(res.declineReason).toBe('card_authentication_failed');
    });

    it('counts wrong PINs and locks the card at the third; the right PIN is then refused too', async () => {
      const c = f.card('card-chen');
      expect((await f.authorizeCard(c, '0000')).res).toMatchObject({
        declineReason: 'pin_incorrect',
        pinTriesLeft: 2,
      });
      expect((await f.authorizeCard(c, '0000')).res).toMatchObject({
        declineReason: 'pin_incorrect',
        pinTriesLeft: 1,
      });
      expect((await f.authorizeCard(c, '0000')).res).toMatchObject({
        declineReason: 'pin_tries_exceeded',
        pinTriesLeft: 0,
      });
      expect((await f.authorizeCard(c, '9876')).res.declineReason).toBe('pin_tries_exceeded');
    });

    it('refuses an unpredictable number used twice', async () => {
      const ch = await f.challenge();
      const card = f.card('card-bob');
      const req = {
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: new Uint8Array(),
        card: card.cardData(ch.unpredictableNumber),
      };
      expect((await f.authorize(req)).declineReason).toBe('pin_missing');
      expect((await f.authorize(req)).declineReason).toBe('unpredictable_number_invalid');
    });

    it('refuses an unregistered terminal and malformed input with clear statuses', async () => {
      await expect(f.challenge('T-9999')).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
      await expect(f.challenge('bad id with spaces')).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('terminal_id'),
      });
      await expect(
        f.authorize({
          terminalId: 'T-0001',
          unpredictableNumber: new Uint8Array(3),
          sealedPinBlock: new Uint8Array(),
          card: undefined,
        }),
      ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    });
  });

  describe('settlement server', () => {
    it('settles once, returns the same result on retry, and posts one balanced pair', async () => {
      const c = f.card('card-alice');
      const { un, res } = await f.authorizeCard(c, '1234');
      const req = settleReq(c, un, res.authorizationRef, 'txn-101');
      const first = await f.settle(req);
      expect(first).toMatchObject({ approved: true, replayed: false });
      const again = await f.settle(req);
      expect(again.replayed).toBe(true);
      expect(Buffer.from(again.receipt!.receipt).equals(Buffer.from(first.receipt!.receipt))).toBe(true);
      expect((await f.getSettlement('T-0001', 'txn-101')).approved).toBe(true);
      expect(await postingsOf('txn-101')).toBe(2);
      expect(await ledgerSum()).toBe(0);
    });

    it('refuses the same transaction id with different content', async () => {
      const c = f.card('card-alice');
      const { un, res } = await f.authorizeCard(c, '1234');
      const req = settleReq(c, un, res.authorizationRef, 'txn-102');
      await f.settle(req);
      await expect(f.settle({ ...req, items: [{ ...items[0]!, name: 'Black tea' }] })).rejects.toMatchObject({
        code: status.ALREADY_EXISTS,
      });
    });

    it('refuses an ARQC that does not verify, or that covers another amount, and posts nothing', async () => {
      const c = f.card('card-bob');
      const { un, res } = await f.authorizeCard(c, '2580');
      const forged = settleReq(c, un, res.authorizationRef, 'txn-110');
      forged.cryptogram = { ...forged.cryptogram!, arqc: forged.cryptogram!.arqc.map((b) => b ^ 0xff) };
      expect((await f.settle(forged)).declineReason).toBe('cryptogram_invalid');
      const cheaper = settleReq(c, un, res.authorizationRef, 'txn-111');
      cheaper.cryptogram = c.arqc({ minor: 1, currency: 'EUR' }, un);
      expect((await f.settle(cheaper)).declineReason).toBe('cryptogram_invalid');
      expect((await await postingsOf('txn-110')) + (await postingsOf('txn-111'))).toBe(0);
    });

    it('declines over the credit limit and posts nothing', async () => {
      const c = f.card('card-dana'); // limit 20.00
      const { un, res } = await f.authorizeCard(c, '1111');
      const wine: Item[] = [{ sku: 'wine', name: 'Wine', quantity: 1, unitPriceMinor: 2500 }];
      const big = settleReq(c, un, res.authorizationRef, 'txn-103', {
        amount: { minor: 2500, currency: 'EUR' },
        items: wine,
      });
      expect(await f.settle(big)).toMatchObject({ approved: false, declineReason: 'insufficient_funds' });
      expect(await postingsOf('txn-103')).toBe(0);
    });

    it('declines an ATC the card used before, an authorization reused, and another merchant', async () => {
      const c = f.card('card-bob');
      const first = await f.authorizeCard(c, '2580');
      expect(
        (await f.settle(settleReq(c, first.un, first.res.authorizationRef, 'txn-200', {}, 200))).approved,
      ).toBe(true);
      expect(
        (await f.settle(settleReq(c, first.un, first.res.authorizationRef, 'txn-201', {}, 201)))
          .declineReason,
      ).toBe('authorization_invalid');
      const second = await f.authorizeCard(c, '2580');
      expect(
        (await f.settle(settleReq(c, second.un, second.res.authorizationRef, 'txn-202', {}, 200)))
          .declineReason,
      ).toBe('atc_replayed');
      const third = await f.authorizeCard(c, '2580');
      expect(
        (
          await f.settle(
            settleReq(c, third.un, third.res.authorizationRef, 'txn-203', { merchantId: 'M-0002' }, 300),
          )
        ).declineReason,
      ).toBe('terminal_unknown');
      expect(await ledgerSum()).toBe(0);
    });
  });
});
