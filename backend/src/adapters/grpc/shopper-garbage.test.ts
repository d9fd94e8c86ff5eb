/**
 * Garbage into the shopper-facing listener (a real grpc-js server over server-authenticated TLS,
 * over a SQLite file and over a PostgreSQL database): random bytes and mutated real requests into every Shopper method, and into
 * SettleWithCode on the terminal port. Every answer is a clean status (OK, FAILED_PRECONDITION for a
 * decline — whose trailer must decode to the method's declined response —, or INVALID_ARGUMENT /
 * RESOURCE_EXHAUSTED / ALREADY_EXISTS — never INTERNAL), the server keeps serving, and nothing
 * reaches the ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { credentials, makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import {
  IssueCodeRequest,
  IssueCodeResponse,
  OfflineReceiptRequest,
  OutcomeRequest,
  PayMerchantRequest,
  PayMerchantResponse,
  SettleResponse,
  SettleWithCodeRequest,
  ShopperService,
  declineFromStatus,
  type DeclinableResponse,
} from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';

let f: StoreFixture;
afterAll(stopStoreServers, 30_000);

const identity = (b: Buffer): Buffer => b;
type Raw = Record<string, (b: Buffer, cb: (e: ServiceError | null) => void) => void> & { close(): void };
const rawClient = (
  paths: readonly string[],
  address: string,
  creds: ReturnType<typeof credentials.createSsl>,
): Raw => {
  const Ctor = makeGenericClientConstructor(
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
  return new Ctor(address, creds) as unknown as Raw;
};

const card = {
  pan: '6799990100000000019',
  expiry: '2812',
  cardholderName: 'ALICE ANDERSON',
  panSequence: 1,
  records: new Uint8Array(60),
  signedDynamicData: new Uint8Array(96),
};
const SAMPLES: Record<string, Uint8Array> = {
  '/bluetill.v1.Shopper/Challenge': new Uint8Array(),
  '/bluetill.v1.Shopper/GetOutcome': OutcomeRequest.encode({
    unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
    card,
    terminalId: 'T-0001',
    terminalTxnId: 'garbage-txn-1',
    atc: 9,
    amount: { minor: 500, currency: 'EUR' },
  }).finish(),
  '/bluetill.v1.Shopper/GetOfflineReceipt': OfflineReceiptRequest.encode({
    unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
    card,
    terminalId: 'T-0001',
    offlineId: 'OFF-T-0001-garbage-1',
  }).finish(),
  '/bluetill.v1.Shopper/IssueCode': IssueCodeRequest.encode(
    IssueCodeRequest.fromPartial({
      unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
      card,
      sealedPinBlock: new Uint8Array(120),
      amountLimit: { minor: 500, currency: 'EUR' },
    }),
  ).finish(),
  '/bluetill.v1.Shopper/PayMerchant': PayMerchantRequest.encode(
    PayMerchantRequest.fromPartial({
      idempotencyKey: 'garbage-00001',
      unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
      merchantCard: { ...card, pan: '6799990900000000012', expiry: '3012' },
      card,
      sealedPinBlock: new Uint8Array(120),
      amount: { minor: 500, currency: 'EUR' },
      items: [{ sku: 'a', name: 'A', quantity: 1, unitPriceMinor: 500 }],
      cryptogram: { arqc: new Uint8Array(8), atc: 1, cdolData: new Uint8Array(29), iad: new Uint8Array(18) },
    }),
  ).finish(),
};
const CODE_SAMPLE = SettleWithCodeRequest.encode({
  terminalId: 'T-0001',
  terminalTxnId: 'garbage-code-1',
  merchantId: 'M-0001',
  code: '12345678',
  amount: { minor: 500, currency: 'EUR' },
  items: [{ sku: 'a', name: 'A', quantity: 1, unitPriceMinor: 500 }],
}).finish();

const CLEAN = new Set([
  status.OK,
  status.FAILED_PRECONDITION,
  status.INVALID_ARGUMENT,
  status.RESOURCE_EXHAUSTED,
  status.ALREADY_EXISTS,
  status.PERMISSION_DENIED,
]);
/** Each declinable method's response decoder: a FAILED_PRECONDITION must carry a decline the client can read. */
const DECLINES: Record<string, (b: Uint8Array) => DeclinableResponse> = {
  '/bluetill.v1.Shopper/IssueCode': IssueCodeResponse.decode,
  '/bluetill.v1.Shopper/PayMerchant': PayMerchantResponse.decode,
  '/bluetill.v1.Authorization/SettleWithCode': SettleResponse.decode,
};

/** Random bytes, or a real request with bytes flipped, cut or appended. */
const garbage = (sample: Uint8Array) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 600 }),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = Uint8Array.from(sample);
      if (b.length > 0) b[i % b.length] = b[i % b.length]! ^ x;
      return b;
    }),
    fc.nat().map((n) => sample.subarray(0, sample.length === 0 ? 0 : n % sample.length)),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((tail) => Uint8Array.from([...sample, ...tail])),
  );

async function soak(
  client: Raw,
  paths: readonly string[],
  samples: Record<string, Uint8Array>,
  runs: number,
): Promise<Map<number, number>> {
  const seen = new Map<number, number>();
  for (const path of paths) {
    await fc.assert(
      fc.asyncProperty(garbage(samples[path]!), async (bytes) => {
        const e = await new Promise<ServiceError | null>((resolve) =>
          client[path]!(Buffer.from(bytes), (err) => resolve(err)),
        );
        const code = e?.code ?? status.OK;
        seen.set(code, (seen.get(code) ?? 0) + 1);
        if (code === status.FAILED_PRECONDITION) {
          const decoder = DECLINES[path];
          if (!decoder) return false; // a method that cannot decline answered a decline
          return declineFromStatus(e, decoder)?.approved === false; // throws on a garbled trailer
        }
        return CLEAN.has(code);
      }),
      { numRuns: runs },
    );
  }
  return seen;
}

describe.each(fixtureStores)('garbage into the shopper listener over %s', (store) => {
  beforeAll(async () => {
    f = await startBackendFixture({
      store,
      shopper: {
        codesPerCardPerMinute: 1_000_000,
        paymentsPerCardPerMinute: 1_000_000,
        challengesPerPeerPerMinute: 1_000_000,
      },
    });
  }, 120_000);
  afterAll(async () => f?.close());

  describe('garbage into the phone-facing methods', () => {
    it(
      'every Shopper method, and SettleWithCode from a till: clean statuses only, still serving, nothing posted',
      { timeout: 120_000 },
      async () => {
        const paths = Object.values(ShopperService).map((m) => m.path);
        const shopper = rawClient(
          paths,
          f.shopperAddress,
          credentials.createSsl(Buffer.from(f.seed.trust.backendTlsCa!)),
        );
        const seen = await soak(shopper, paths, SAMPLES, 150);
        shopper.close();
        const codePath = '/bluetill.v1.Authorization/SettleWithCode';
        const till = rawClient([codePath], f.backend.address, f.credentialsFor('T-0001'));
        const seenTill = await soak(till, [codePath], { [codePath]: CODE_SAMPLE }, 150);
        till.close();
        console.log(
          `shopper garbage: ${[...seen].map(([c, n]) => `${status[c]} ${n}`).join(', ')}; SettleWithCode: ${[...seenTill].map(([c, n]) => `${status[c]} ${n}`).join(', ')}`,
        );
        expect(seen.get(status.INTERNAL) ?? 0).toBe(0);
        expect((await f.shopper.challenge()).unpredictableNumber).toHaveLength(4);
        expect(await f.count('postings')).toBe(0);
        expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
      },
    );
  });
});
