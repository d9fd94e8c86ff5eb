/**
 * Garbage protobuf into every gRPC method of a real backend (seeded SQLite, 127.0.0.1:0; every
 * method of the Authorization and Settlement service definitions, plus Health.Check): random
 * bytes, truncated and mutated real requests, sent with a raw grpc-js client whose serializers
 * pass bytes through. Every answer must be a clean gRPC status (OK or one of the statuses the
 * backend maps its errors to; INTERNAL is allowed but counted — a finding; a FAILED_PRECONDITION
 * is a decline and must carry a trailer that decodes to the code its details name), the server keeps
 * serving (a health check after each batch), and no posting ever reaches the ledger. The sender
 * is a till with a valid client certificate (the backend serves mutual TLS). Twice: the backend on
 * one thread, and with its use-case worker as `serve` runs it (Authorize and Settle then reach the
 * worker as bytes, and it decodes them: backend/src/adapters/grpc/forwarded-methods.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import {
  AuthorizationService,
  AuthorizeRequest,
  ChallengeRequest,
  GetSettlementRequest,
  SettleRequest,
  SettlementService,
  declineFromStatus,
  health,
  type DeclinableResponse,
} from '@bluetill/protocol';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { SOAK, Tally, bytes, cases, mutation, params, timeout } from './support';

const tally = new Tally('grpc');
const codes = new Map<string, number>();
const byMethod: Record<string, Record<string, number>> = {};
let internalDeserialize = 0;
let internalHandler = 0;
let healthChecks = 0;

const card = {
  pan: '9990010000000017',
  expiry: '3012',
  cardholderName: 'TEST/CARDHOLDER',
  panSequence: 1,
  records: new Uint8Array(40),
  signedDynamicData: new Uint8Array(96),
};
const SAMPLES: Record<string, Uint8Array> = {
  '/bluetill.v1.Authorization/Challenge': ChallengeRequest.encode({ terminalId: 'T-0001' }).finish(),
  '/bluetill.v1.Authorization/Authorize': AuthorizeRequest.encode(
    AuthorizeRequest.fromPartial({
      terminalId: 'T-0001',
      unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
      card,
      sealedPinBlock: new Uint8Array(120),
    }),
  ).finish(),
  '/bluetill.v1.Authorization/Settle': SettleRequest.encode(
    SettleRequest.fromPartial({
      terminalId: 'T-0001',
      terminalTxnId: 'txn-fault-1',
      merchantId: 'M-0001',
      authorizationRef: 'AUTH-not-issued',
      card,
      amount: { minor: 1250, currency: 'EUR' },
      items: [{ sku: 'sku-1', name: 'Apple', quantity: 2, unitPriceMinor: 625 }],
      cryptogram: { arqc: new Uint8Array(8), atc: 1, cdolData: new Uint8Array(29), iad: new Uint8Array(18) },
    }),
  ).finish(),
  '/bluetill.v1.Settlement/GetSettlement': GetSettlementRequest.encode({
    terminalId: 'T-0001',
    terminalTxnId: 'txn-fault-1',
  }).finish(),
  '/grpc.health.v1.Health/Check': health.HealthCheckRequest.encode({ service: '' }).finish(),
};
SAMPLES['/bluetill.v1.Settlement/Settle'] = SAMPLES['/bluetill.v1.Authorization/Settle']!;
// Every other method the services define (the list grows with the protocol): its empty request as the sample.
type MethodDef = {
  path: string;
  requestSerialize: (v: unknown) => Buffer;
  requestDeserialize: (b: Buffer) => unknown;
};
for (const d of [
  ...Object.values(AuthorizationService),
  ...Object.values(SettlementService),
] as unknown as MethodDef[]) {
  SAMPLES[d.path] ??= new Uint8Array(d.requestSerialize(d.requestDeserialize(Buffer.alloc(0))));
}
const METHODS = Object.keys(SAMPLES);
// A FAILED_PRECONDITION is a business decline: its trailer must decode, with the method's own response decoder, to a decline.
const RESPONSE_DECODERS = Object.fromEntries(
  (
    [...Object.values(AuthorizationService), ...Object.values(SettlementService)] as unknown as {
      path: string;
      responseDeserialize: (b: Buffer) => unknown;
    }[]
  ).map((d) => [d.path, (b: Uint8Array) => d.responseDeserialize(Buffer.from(b)) as DeclinableResponse]),
);
let unreadableDeclines = 0;

const identity = (b: Buffer): Buffer => b;
const RawClient = makeGenericClientConstructor(
  Object.fromEntries(
    METHODS.map((path) => [
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

let f: BackendFixture;
let client: Client &
  Record<string, (req: Buffer, opts: object, cb: (e: ServiceError | null, r?: Buffer) => void) => void>;

afterAll(() => {
  tally.print({
    codes: Object.fromEntries(codes),
    unreadableDeclines,
    internalDeserialize,
    internalHandler,
    healthChecks,
    methods: Object.keys(SAMPLES).length,
    byMethod,
  });
});

function call(path: string, body: Uint8Array): Promise<{ code: number; details: string; decline?: string }> {
  return new Promise((resolve) => {
    client[path]!(Buffer.from(body), { deadline: Date.now() + 10_000 }, (e) => {
      if (!e) return resolve({ code: status.OK, details: '' });
      if (e.code !== status.FAILED_PRECONDITION) return resolve({ code: e.code, details: e.details });
      let decline = 'unreadable';
      try {
        decline = RESPONSE_DECODERS[path]
          ? (declineFromStatus(e, RESPONSE_DECODERS[path]!)?.declineReason ?? 'unreadable')
          : 'not a declinable method';
      } catch {
        unreadableDeclines++;
      }
      resolve({ code: e.code, details: e.details, decline });
    });
  });
}

/**
 * Statuses the backend may answer with (to-grpc-status.ts), plus INTERNAL (counted), health's
 * NOT_FOUND, grpc-js's RESOURCE_EXHAUSTED (over 64 KiB) and UNIMPLEMENTED (a method the proto
 * defines that this server does not serve yet). UNKNOWN, CANCELLED, DEADLINE_EXCEEDED, a dropped
 * connection (UNAVAILABLE is allowed: the backend maps its own unavailability to it) fail the test.
 */
const CLEAN = new Set<number>([
  status.OK,
  status.RESOURCE_EXHAUSTED,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.PERMISSION_DENIED,
  status.ALREADY_EXISTS,
  status.UNAVAILABLE,
  status.INTERNAL,
  status.FAILED_PRECONDITION,
  status.UNIMPLEMENTED,
]);

const postings = (): number =>
  (f.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n;

describe.each([
  { mode: 'on one thread', worker: false },
  { mode: 'with the use-case worker (as serve runs it)', worker: true },
])('garbage into every gRPC method of a real backend $mode', ({ worker }) => {
  beforeAll(async () => {
    f = await startBackendFixture(worker ? { worker: true, cryptoWorkers: 0 } : {});
    // a till with a valid client certificate (mutual TLS) that sends garbage
    client = new RawClient(f.backend.address, f.credentialsFor('T-0001'), {
      'grpc.max_send_message_length': 1 << 20,
    }) as typeof client;
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await f?.close();
  });

  it(
    'clean statuses only, the server keeps serving, no postings',
    async () => {
      const before = postings();
      const request = fc.tuple(
        fc.constantFrom(...METHODS),
        fc.oneof({ weight: 50, arbitrary: fc.nat(2) }, { weight: 1, arbitrary: fc.constant(3) }),
        bytes(600),
        fc.nat(1000),
        fc.nat(),
      );
      // soak: at least 20 calls a batch, so 50,000 batches make ≥ 1,000,000 calls
      const batch = fc.array(request, { minLength: SOAK ? 20 : 1, maxLength: 40 });
      const property = fc.asyncProperty(batch, fc.context(), async (reqs, ctx) => {
        const answers = await Promise.all(
          reqs.map(async ([path, kind, random, cut, pick]) => {
            const sample = SAMPLES[path]!;
            // 0: random bytes; 1: the real request truncated; 2: the real request mutated (bit flips, splices, edge bytes);
            // 3: the real request padded past the server's 64 KiB receive limit
            const body =
              kind === 0
                ? random
                : kind === 1
                  ? sample.slice(0, cut % (sample.length + 1))
                  : kind === 2
                    ? fc.sample(mutation(sample), { seed: pick, numRuns: 1 })[0]!
                    : Uint8Array.from([...sample, ...new Uint8Array(70_000 + cut)]);
            const a = await call(path, body);
            return { path, body, ...a };
          }),
        );
        for (const a of answers) {
          tally.cases++;
          const name = status[a.code] ?? String(a.code);
          codes.set(name, (codes.get(name) ?? 0) + 1);
          const m = (byMethod[a.path.replace('/bluetill.v1.', '').replace('/grpc.health.v1.', '')] ??= {});
          m[name] = (m[name] ?? 0) + 1;
          if (a.code === status.INTERNAL) {
            if (/deserializ/i.test(a.details)) internalDeserialize++;
            else internalHandler++;
          }
          if (!CLEAN.has(a.code))
            ctx.log(`${a.path} ${Buffer.from(a.body).toString('hex')} -> ${name} ${a.details}`);
          expect(CLEAN.has(a.code), `${a.path} answered ${name}: ${a.details}`).toBe(true);
          if (a.code === status.FAILED_PRECONDITION)
            expect(
              a.details.startsWith(`${a.decline}:`),
              `${a.path}: a decline whose trailer reads ${a.decline}, details ${a.details}`,
            ).toBe(true);
          if (a.code === status.INTERNAL && !/deserializ/i.test(a.details))
            ctx.log(`INTERNAL from the handler: ${a.path} ${Buffer.from(a.body).toString('hex')}`);
        }
        const h = await call('/grpc.health.v1.Health/Check', SAMPLES['/grpc.health.v1.Health/Check']!);
        healthChecks++;
        expect(h.code, 'health check after a batch').toBe(status.OK);
        expect(postings(), 'postings in the ledger').toBe(before);
      });
      // fast slice: 150 batches of 1-40 calls (~1,000 calls); soak: 50,000 batches of 20-40
      await fc.assert(property, params(cases(150, 50_000)));
      expect(f.backend.store.ledgerSum()).toBe(0);
    },
    timeout(SOAK ? undefined : 40_000),
  );
});
