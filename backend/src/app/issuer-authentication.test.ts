/**
 * Authorize with an online PIN answers the card too: Issuer Authentication Data (ARPC method 2 over
 * the card's account-verification ARQC ‖ CSU with the tries left in the one budget), checked here
 * with the card's own key as the card checks it. No online PIN is judged without that ARQC. The
 * shopper listener's PIN answers (IssueCode, PayMerchant) do the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkIssuerAuthentication,
  codePinContext,
  merchantCardPinContext,
  CvmMethod,
  pinSealContext,
  sealPin,
  verifyCertificate,
  publicKeyFromRaw,
  type AuthorizeResponse,
  type CardData,
  type CertificateBody,
  type CardStatusUpdate,
} from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../test-support/backend-fixture';
import type { TestCard } from '../test-support/test-card';

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

/** The PIN tries the backend has counted for the card with this PAN (its masked PAN is unique in the demo). */
const triesOn = async (fx: StoreFixture, pan: string): Promise<number> =>
  (await fx.one<{ n: number }>(
    'SELECT pin_tries AS n FROM cards WHERE pan_masked = ?',
    `${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`,
  ))!.n;
const serverTries = (pan: string) => triesOn(f, pan);

/** An online-PIN Authorize; `edit` changes the card data before it is sent. */
async function authorize(
  card: TestCard,
  pin: string,
  edit: (c: CardData, un: Uint8Array) => CardData = (c) => c,
  cvmMethod?: CvmMethod,
): Promise<{ res: AuthorizeResponse; sent: CardData }> {
  const ch = await f.challenge();
  const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
  const pinKey: CertificateBody = verifyCertificate(ch.pinKeyCertificate, root, {
    role: 'pin-key',
    now: Date.now(),
  });
  const sealed =
    cvmMethod === undefined
      ? sealPin({
          pin,
          pan: card.p.pan,
          pinKey: pinKey.publicKey,
          pinKeyId: pinKey.subjectId,
          context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
        })
      : new Uint8Array();
  const sent = edit(card.cardData(ch.unpredictableNumber), ch.unpredictableNumber);
  const res = await f.authorize({
    terminalId: 'T-0001',
    unpredictableNumber: ch.unpredictableNumber,
    sealedPinBlock: sealed,
    card: sent,
    ...(cvmMethod !== undefined ? { cvmMethod } : {}),
  });
  return { res, sent };
}

/** The CSU the card would adopt, or undefined when the data does not verify under the card's key for the ARQC it sent. */
function asTheCardSees(
  card: TestCard,
  r: { res: { issuerAuthenticationData?: Uint8Array | undefined }; sent: CardData },
): CardStatusUpdate | undefined {
  const ac = r.sent.authorizationCryptogram!;
  return checkIssuerAuthentication(r.res.issuerAuthenticationData ?? new Uint8Array(), {
    iccMasterKey: card.p.acMasterKey,
    algorithm: card.p.acAlgorithm,
    atc: Uint8Array.of(ac.atc >> 8, ac.atc & 0xff),
    arqc: ac.arqc,
  });
}

describe.each(fixtureStores)('issuer authentication data over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(() => f.close());

  describe('Authorize: issuer authentication for the card', () => {
    it('a wrong PIN, a second, the budget-spending third, and a locked card: each answer tells the card the tries left (2, 1, 0, 0), not approved', async () => {
      const card = f.card('card-chen');
      const seen: (CardStatusUpdate | undefined)[] = [];
      for (const pin of ['0000', '1111', '2222', '9876'])
        seen.push(asTheCardSees(card, await authorize(card, pin)));
      expect(seen).toEqual(
        [2, 1, 0, 0].map((pinTriesLeft) => ({ pinTriesLeft, approved: false, updatePinTryCounter: true })),
      );
    });

    it("the right PIN: approved, with the tries left in the budget (the card's own wrong tries still count)", async () => {
      const card = f.card('card-alice');
      const right = await authorize(card, '1234');
      expect(right.res.approved).toBe(true);
      expect(asTheCardSees(card, right)).toEqual({
        pinTriesLeft: 3,
        approved: true,
        updatePinTryCounter: true,
      });
      const bob = f.card('card-bob');
      const afterOffline = await authorize(bob, '2580', (c, un) => bob.cardData(un, { pinTriesLeft: 2 }));
      expect(afterOffline.res.approved).toBe(true);
      expect(asTheCardSees(bob, afterOffline)).toEqual({
        pinTriesLeft: 2,
        approved: true,
        updatePinTryCounter: true,
      });
    });

    it("no online PIN is judged without the card's account-verification ARQC over this UN: missing, over an amount, over another UN, or edited is cryptogram_invalid, no try used, nothing for the card", async () => {
      const card = f.card('card-dana');
      const before = await serverTries(card.p.pan);
      const edits: ((c: CardData, un: Uint8Array) => CardData)[] = [
        ({ authorizationCryptogram: _, ...c }) => c,
        (c, un) => ({ ...c, authorizationCryptogram: card.arqc({ minor: 100, currency: 'EUR' }, un) }),
        (c) => ({
          ...c,
          authorizationCryptogram: card.arqc({ minor: 0, currency: 'EUR' }, Uint8Array.of(9, 9, 9, 9)),
        }),
        (c) => ({
          ...c,
          authorizationCryptogram: {
            ...c.authorizationCryptogram!,
            arqc: c.authorizationCryptogram!.arqc.map((b, i) => (i === 0 ? b ^ 1 : b)),
          },
        }),
        (c) => ({
          ...c,
          authorizationCryptogram: { ...c.authorizationCryptogram!, atc: c.authorizationCryptogram!.atc + 1 },
        }),
      ];
      for (const edit of edits) {
        const r = await authorize(card, '0000', edit);
        expect(r.res).toMatchObject({ approved: false, declineReason: 'cryptogram_invalid' });
        expect(r.res.issuerAuthenticationData).toBeUndefined();
      }
      expect(await serverTries(card.p.pan)).toBe(before);
    });

    it("the card's PIN Try Counter at its ARQC counts when lower than in its DDA (an offline PIN tried in between)", async () => {
      const card = f.card('card-dana');
      const r = await authorize(card, '0000', (c, un) => ({
        ...c,
        authorizationCryptogram: card.arqc({ minor: 0, currency: 'EUR' }, un, undefined, { pinTriesLeft: 1 }),
      }));
      expect(r.res).toMatchObject({ approved: false, declineReason: 'pin_tries_exceeded', pinTriesLeft: 0 });
      expect(asTheCardSees(card, r)).toEqual({ pinTriesLeft: 0, approved: false, updatePinTryCounter: true });
    });

    it('a method the card verifies itself gets no issuer authentication data (the card did not ask for it)', async () => {
      const card = f.card('card-alice');
      const r = await authorize(card, '', (c) => c, CvmMethod.CVM_METHOD_OFFLINE_PIN);
      expect(r.res.approved).toBe(true);
      expect(r.res.issuerAuthenticationData).toBeUndefined();
    });
  });

  describe("The shopper listener's PIN answers join the one budget", () => {
    let g: StoreFixture;
    beforeAll(async () => {
      g = await startBackendFixture({ store });
    }, 120_000);
    afterAll(() => g.close());

    const sealedFor = (card: TestCard, pin: string, pinKeyCertificate: Uint8Array, context: Uint8Array) => {
      const root = publicKeyFromRaw(Buffer.from(g.seed.trust.cardCompanyRoot, 'base64'));
      const pinKey = verifyCertificate(pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
      return sealPin({ pin, pan: card.p.pan, pinKey: pinKey.publicKey, pinKeyId: pinKey.subjectId, context });
    };

    async function issueCode(card: TestCard, pin: string, edit: (c: CardData, un: Uint8Array) => CardData) {
      const ch = await g.shopper.challenge();
      const un = ch.unpredictableNumber;
      const sent = edit(card.cardData(un), un);
      const res = await g.shopper.issueCode({
        unpredictableNumber: un,
        card: sent,
        sealedPinBlock: sealedFor(card, pin, ch.pinKeyCertificate, codePinContext(un)),
        amountLimit: { minor: 10_00, currency: 'EUR' },
      });
      return { res, sent };
    }

    const tries = (pan: string) => triesOn(g, pan);

    it('IssueCode: a wrong PIN, a second, then the right one: the card is told 2, 1, then 3 (approved), each under its own key', async () => {
      const card = g.card('card-alice');
      const seen = [];
      for (const pin of ['0000', '1111', '1234']) {
        const r = await issueCode(card, pin, (c) => c);
        seen.push({ approved: r.res.approved, csu: asTheCardSees(card, r) });
      }
      expect(seen).toEqual([
        { approved: false, csu: { pinTriesLeft: 2, approved: false, updatePinTryCounter: true } },
        { approved: false, csu: { pinTriesLeft: 1, approved: false, updatePinTryCounter: true } },
        { approved: true, csu: { pinTriesLeft: 3, approved: true, updatePinTryCounter: true } },
      ]);
    });

    it("IssueCode judges no PIN without the card's account-verification ARQC over this UN: cryptogram_invalid, no try used, nothing for the card", async () => {
      const card = g.card('card-chen');
      const before = await tries(card.p.pan);
      const edits: ((c: CardData, un: Uint8Array) => CardData)[] = [
        ({ authorizationCryptogram: _, ...c }) => c,
        (c, un) => ({ ...c, authorizationCryptogram: card.arqc({ minor: 100, currency: 'EUR' }, un) }),
        (c) => ({
          ...c,
          authorizationCryptogram: card.arqc({ minor: 0, currency: 'EUR' }, Uint8Array.of(7, 7, 7, 7)),
        }),
      ];
      for (const edit of edits) {
        const r = await issueCode(card, '0000', edit);
        expect(r.res).toMatchObject({ approved: false, declineReason: 'cryptogram_invalid', code: '' });
        expect(r.res.issuerAuthenticationData).toBeUndefined();
      }
      expect(await tries(card.p.pan)).toBe(before);
    });

    it('PayMerchant: a wrong PIN tells the card the tries left; the right one tells it approved', async () => {
      const card = g.card('card-bob');
      const mcard = g.card('mcard-corner');
      const pay = async (pin: string, key: string) => {
        const ch = await g.shopper.challenge();
        const un = ch.unpredictableNumber;
        const amount = { minor: 2_00, currency: 'EUR' };
        const sent = card.cardData(un);
        const res = await g.shopper.payMerchant({
          idempotencyKey: key,
          unpredictableNumber: un,
          merchantCard: mcard.cardData(un),
          card: sent,
          sealedPinBlock: sealedFor(card, pin, ch.pinKeyCertificate, merchantCardPinContext(un)),
          amount,
          items: [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: amount.minor }],
          cryptogram: card.arqc(amount, un),
        });
        return { res, sent };
      };
      const wrong = await pay('0000', 'iad-wrong-0001');
      expect(wrong.res).toMatchObject({ approved: false, declineReason: 'pin_incorrect', pinTriesLeft: 2 });
      expect(asTheCardSees(card, wrong)).toEqual({
        pinTriesLeft: 2,
        approved: false,
        updatePinTryCounter: true,
      });
      const right = await pay('2580', 'iad-right-0001');
      expect(right.res.approved).toBe(true);
      expect(asTheCardSees(card, right)).toEqual({
        pinTriesLeft: 3,
        approved: true,
        updatePinTryCounter: true,
      });
    });
  });
});
