/**
 * Crypto workers: Authorize and Settle prepared on a crypto worker thread (sealed PIN,
 * card certificates, ARQC) and decided on the use-case worker give the same answers as one thread;
 * a preparation's error crosses back as its status; a crypto worker that crashes fails the calls it
 * had taken with UNAVAILABLE (nothing of them stored), is replaced, and the server keeps serving;
 * close ends every thread.
 */
import { status } from '@grpc/grpc-js';
import pino from 'pino';
import {
  pinSealContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  type AuthorizeRequest,
} from '@bluetill/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackendFixture, type BackendFixture } from '../../test-support/backend-fixture';
import { sell } from '../../test-support/sale';
import { defaultCryptoWorkers, startUseCaseThread } from './use-case-thread';

let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture({ worker: true, cryptoWorkers: 1 }); // at least one, whatever the machine
});
afterAll(() => f.close());

const log = pino({ level: 'silent' });
const caller = { kind: 'terminal', terminalId: 'T-0001' } as const;

/** A challenge from the fixture's server and an Authorize request for it (what a till relays). */
async function authorizeRequest(cardId: string, pin: string): Promise<AuthorizeRequest> {
  const card = f.card(cardId);
  const ch = await f.challenge('T-0001');
  const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
  const pinKey = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
  return {
    terminalId: 'T-0001',
    unpredictableNumber: ch.unpredictableNumber,
    card: card.cardData(ch.unpredictableNumber),
    sealedPinBlock: sealPin({
      pin,
      pan: card.p.pan,
      pinKey: pinKey.publicKey,
      pinKeyId: pinKey.subjectId,
      context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
    }),
  };
}

describe('crypto workers', () => {
  it('defaults to the cores left after the gRPC thread and the use-case worker', () => {
    expect([1, 2, 3, 8, 64].map((n) => defaultCryptoWorkers(n))).toEqual([0, 0, 1, 6, 62]);
  });

  it('answer as one thread: a sale, a wrong PIN with its tries, a used UN, a settle retried with the same bytes', async () => {
    const sale = await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'cw-1', minor: 700 });
    expect(sale).toMatchObject({ approved: true, replayed: false });
    expect(await f.getSettlement('T-0001', 'cw-1')).toEqual({ ...sale, replayed: true });
    const wrong = await f.authorizeCard(f.card('card-bob'), '0000');
    expect(wrong.res).toMatchObject({ approved: false, declineReason: 'pin_incorrect', pinTriesLeft: 2 });
    const req = await authorizeRequest('card-alice', '1234');
    expect(await f.authorize(req)).toMatchObject({ approved: true });
    expect(await f.authorize(req)).toMatchObject({
      approved: false,
      declineReason: 'unpredictable_number_invalid',
    });
    expect(f.backend.store.ledgerSum()).toBe(0);
  });

  it("sends a preparation's error back as its status (another terminal's id, checked on the crypto worker)", async () => {
    const req = await authorizeRequest('card-alice', '1234');
    const t2 = f.clientFor(f.credentialsFor('T-0002'));
    await expect(t2.authorize(req)).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: expect.stringContaining('caller certificate'),
    });
    expect(await f.authorize(req)).toMatchObject({ approved: true }); // the refused call used nothing
  });

  it(
    'a crashed crypto worker fails its calls with UNAVAILABLE, stores nothing of them, and is replaced',
    { timeout: 30_000 },
    async () => {
      const thread = await startUseCaseThread({
        store: { dbPath: f.seed.dbPath },
        keysPath: f.seed.keysPath,
        masterKey: f.masterKey,
        log,
        cryptoWorkers: 1,
      });
      try {
        expect(thread.cryptoWorkers).toBe(1);
        const reqs = await Promise.all([1, 2, 3].map(() => authorizeRequest('card-alice', '1234')));
        const replaced = thread.crashCryptoWorker(0); // the next call it reads throws, uncaught
        const results = await Promise.allSettled(
          reqs.map((r) => thread.useCases.authorization.authorize(r, caller)),
        );
        for (const r of results)
          expect(r).toMatchObject({
            status: 'rejected',
            reason: { name: 'RequestError', code: 'unavailable' },
          });
        await replaced;
        expect(thread.cryptoWorkers).toBe(1);
        // Nothing of the lost calls was stored: their UNs are still unused, so the same requests now pass.
        for (const r of reqs)
          expect(await thread.useCases.authorization.authorize(r, caller)).toMatchObject({ approved: true });
      } finally {
        await thread.close();
      }
      expect(thread.cryptoWorkers).toBe(0);
      await expect(
        thread.useCases.authorization.authorize(await authorizeRequest('card-alice', '1234'), caller),
      ).rejects.toThrow(/exited/);
    },
  );

  it(
    'with no crypto worker, the use-case worker prepares the calls itself (same answers)',
    { timeout: 30_000 },
    async () => {
      const thread = await startUseCaseThread({
        store: { dbPath: f.seed.dbPath },
        keysPath: f.seed.keysPath,
        masterKey: f.masterKey,
        log,
        cryptoWorkers: 0,
      });
      try {
        expect(thread.cryptoWorkers).toBe(0);
        expect(
          await thread.useCases.authorization.authorize(await authorizeRequest('card-alice', '1234'), caller),
        ).toMatchObject({ approved: true });
        expect(
          await thread.useCases.authorization.authorize(await authorizeRequest('card-alice', '9999'), caller),
        ).toMatchObject({ approved: false, declineReason: 'pin_incorrect' });
        await expect(
          thread.useCases.authorization.authorize(await authorizeRequest('card-alice', '1234'), {
            kind: 'terminal',
            terminalId: 'T-0002',
          }),
        ).rejects.toMatchObject({ name: 'RequestError', code: 'permission_denied' });
      } finally {
        await thread.close();
      }
    },
  );
});
