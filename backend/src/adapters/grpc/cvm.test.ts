/**
 * On the real gRPC servers (grpc-js on loopback, over SQLite and over PostgreSQL): the declared cardholder
 * verification is checked at the edge, recorded on the authorization, and enforced at settlement
 * against the CVR of the card's verified cryptogram only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { CvmMethod, type Cvr, type Item } from '@bluetill/protocol';
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
const count = async (sql: string, ...args: unknown[]) => (await f.one<{ n: number }>(sql, ...args))!.n;
const postings = () => f.count('postings');
let txn = 0;

/** Authorize with a card-verified method (no PIN block), then settle with an ARQC whose CVR says `cvr`. */
async function payWith(
  card: TestCard,
  method: CvmMethod,
  cvr: Partial<Cvr>,
  iadEdit?: (iad: Uint8Array) => Uint8Array,
) {
  const ch = await f.challenge();
  const auth = await f.authorize({
    terminalId: 'T-0001',
    unpredictableNumber: ch.unpredictableNumber,
    sealedPinBlock: new Uint8Array(),
    card: card.cardData(ch.unpredictableNumber),
    cvmMethod: method,
  });
  const cryptogram = card.arqc(amount, ch.unpredictableNumber, undefined, cvr);
  if (iadEdit) cryptogram.iad = iadEdit(cryptogram.iad);
  const settled = await f.settle({
    terminalId: 'T-0001',
    terminalTxnId: `cvm-${++txn}`,
    merchantId: 'M-0001',
    authorizationRef: auth.authorizationRef,
    card: card.cardData(ch.unpredictableNumber),
    amount,
    items,
    cryptogram,
  });
  return { auth, settled };
}

describe.each(fixtureStores)('cardholder verification over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({ store });
  }, 120_000);
  afterAll(() => f.close());

  describe('cardholder verification at the backend', () => {
    it('refuses an unknown method and a PIN block beside a card-verified method at the edge (INVALID_ARGUMENT); no UN or PIN try used', async () => {
      const card = f.card('card-dana');
      const ch = await f.challenge();
      const req = {
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: new Uint8Array(),
        card: card.cardData(ch.unpredictableNumber),
      };
      await expect(f.authorize({ ...req, cvmMethod: 9 as CvmMethod })).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('cvm_method'),
      });
      await expect(
        f.authorize({
          ...req,
          sealedPinBlock: new Uint8Array(40),
          cvmMethod: CvmMethod.CVM_METHOD_BIOMETRIC,
        }),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('sealed_pin_block'),
      });
      // the UN is still unused: the same request with a valid method is judged
      expect((await f.authorize({ ...req, cvmMethod: CvmMethod.CVM_METHOD_KNOWLEDGE })).approved).toBe(true);
      expect(await count("SELECT pin_tries AS n FROM cards WHERE id = 'card-dana'")).toBe(0);
    });

    it.each([
      [
        'offline PIN the card verified',
        CvmMethod.CVM_METHOD_OFFLINE_PIN,
        { offlinePinPerformed: true },
        'offline_pin',
        true,
        '',
      ],
      [
        'fingerprint the card matched',
        CvmMethod.CVM_METHOD_BIOMETRIC,
        { biometricPerformed: true },
        'biometric',
        true,
        '',
      ],
      [
        'knowledge secret the card checked',
        CvmMethod.CVM_METHOD_KNOWLEDGE,
        { knowledgePerformed: true },
        'knowledge',
        true,
        '',
      ],
      [
        'biometric declared, the card verified nothing',
        CvmMethod.CVM_METHOD_BIOMETRIC,
        {},
        'biometric',
        false,
        'cvm_failed',
      ],
      [
        'biometric declared, the card saw it fail',
        CvmMethod.CVM_METHOD_BIOMETRIC,
        { biometricPerformed: true, biometricFailed: true },
        'biometric',
        false,
        'cvm_failed',
      ],
      [
        'knowledge declared, the card locked it',
        CvmMethod.CVM_METHOD_KNOWLEDGE,
        { knowledgePerformed: true, knowledgeFailed: true, knowledgeTryLimitExceeded: true },
        'knowledge',
        false,
        'cvm_tries_exceeded',
      ],
      [
        'offline PIN declared, the card saw a wrong PIN',
        CvmMethod.CVM_METHOD_OFFLINE_PIN,
        { offlinePinPerformed: true, offlinePinFailed: true, pinTriesLeft: 2 },
        'offline_pin',
        false,
        'pin_incorrect',
      ],
      [
        'offline PIN passed after a failed fingerprint (no fallback)',
        CvmMethod.CVM_METHOD_OFFLINE_PIN,
        { offlinePinPerformed: true, biometricPerformed: true, biometricFailed: true },
        'offline_pin',
        false,
        'cvm_failed',
      ],
    ] as const)('%s: recorded, settled by the CVR', async (_n, method, cvr, recorded, approved, decline) => {
      const before = await postings();
      const { auth, settled } = await payWith(f.card('card-bob'), method, cvr);
      expect(auth.approved).toBe(true);
      expect(
        await count(
          'SELECT COUNT(*) AS n FROM authorizations WHERE ref = ? AND cvm = ?',
          auth.authorizationRef,
          recorded,
        ),
      ).toBe(1);
      expect(settled).toMatchObject({ approved, declineReason: decline });
      expect((await postings()) - before).toBe(approved ? 2 : 0);
    });

    it('a CVR edited to claim the method is in a cryptogram that does not verify: cryptogram_invalid', async () => {
      const before = await postings();
      const { settled } = await payWith(f.card('card-bob'), CvmMethod.CVM_METHOD_BIOMETRIC, {}, (iad) =>
        Uint8Array.from(iad, (b, i) => (i === 6 ? b | 0x80 : b)),
      );
      expect(settled).toMatchObject({ approved: false, declineReason: 'cryptogram_invalid' });
      expect(await postings()).toBe(before);
    });

    it('an online-PIN authorization whose card saw another method fail is declined at settlement (never a weaker method after a failed one)', async () => {
      const c = f.card('card-alice');
      const { un, res } = await f.authorizeCard(c, '1234');
      expect(
        await count(
          "SELECT COUNT(*) AS n FROM authorizations WHERE ref = ? AND cvm = 'online_pin'",
          res.authorizationRef,
        ),
      ).toBe(1);
      const settled = await f.settle({
        terminalId: 'T-0001',
        terminalTxnId: `cvm-${++txn}`,
        merchantId: 'M-0001',
        authorizationRef: res.authorizationRef,
        card: c.cardData(un),
        amount,
        items,
        cryptogram: c.arqc(amount, un, undefined, { knowledgePerformed: true, knowledgeFailed: true }),
      });
      expect(settled).toMatchObject({ approved: false, declineReason: 'cvm_failed' });
      expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
    });
  });
});
