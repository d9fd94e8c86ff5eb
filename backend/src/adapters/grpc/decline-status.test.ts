/**
 * A business decline is an answer, not an error: status OK, the whole response message (decline
 * code, signed receipt, tries left …) in the body, no trailer — like an approval. Real grpc-js
 * servers on 127.0.0.1 (mutual TLS and the shopper listener), over a SQLite file and over a PostgreSQL database. Each decline is
 * reached through the fixture's clients, which record the raw status and response of every answer
 * (`f.wire`). A raw client with identity codecs checks the bytes of a retried declined Settle, the
 * Settlement service's own methods, and an approval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeGenericClientConstructor,
  status,
  type Metadata,
  type ServiceError,
  type StatusObject,
} from '@grpc/grpc-js';
import {
  AuthorizeResponse,
  DECLINE_TRAILER_KEY,
  GetSettlementRequest,
  IssueCodeResponse,
  Receipt,
  type PayMerchantRequest,
  PayMerchantResponse,
  RefundResponse,
  SettleRequest,
  SettleResponse,
  SettleWithCodeRequest,
  VoidResponse,
  codePinContext,
  merchantCardPinContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  type DeclinableResponse,
  type Item,
  type Money,
} from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import type { TestCard } from '../../test-support/test-card';
import { sell } from '../../test-support/sale';
import { fleetCards } from '../../admin/demo-seed';

let f: StoreFixture;
let offsetMs = 0;
afterAll(stopStoreServers, 30_000);

/** method → decline reasons whose raw answer this file checked */
const checked = new Map<string, Set<string>>();

/** The last answer on the wire was `method` declining with `reason`: OK, no trailer, the declined response in the body. */
function lastWireDeclined<T extends DeclinableResponse>(method: string, reason: string): T {
  const w = f.wire.at(-1)!;
  expect(w.method).toBe(method);
  expect(w.code, `${method} ${reason}`).toBe(status.OK);
  expect(w.trailer).toHaveLength(0);
  expect(w.response).toMatchObject({ approved: false, declineReason: reason });
  if (!checked.has(method)) checked.set(method, new Set());
  checked.get(method)!.add(reason);
  return w.response as T;
}

/** A call through the fixture: the client gets the decline as a value, and the wire carried it OK in the body. */
async function declines<T extends DeclinableResponse>(
  method: string,
  reason: string,
  _decode: (b: Uint8Array) => T,
  call: () => Promise<T>,
): Promise<T> {
  const value = await call();
  expect(value).toMatchObject({ approved: false, declineReason: reason });
  expect(lastWireDeclined(method, reason)).toEqual(value);
  return value;
}

const root = () => publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
const tea: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const eur = (minor: number): Money => ({ minor, currency: 'EUR' });
const itemsOf = (m: Money): Item[] => [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: m.minor }];
const UNKNOWN_PAN = '6799990100000000993';

function settleReq(
  card: TestCard,
  un: Uint8Array,
  ref: string,
  txn: string,
  over: Partial<SettleRequest> = {},
  atc?: number,
): SettleRequest {
  const amount = over.amount ?? eur(700);
  return {
    terminalId: 'T-0001',
    terminalTxnId: txn,
    merchantId: 'M-0001',
    authorizationRef: ref,
    card: card.cardData(un),
    amount,
    items: tea,
    cryptogram: card.arqc(amount, un, atc),
    ...over,
  };
}

// A raw client (identity codecs): the status, the trailing metadata and the response bytes as sent.
interface RawAnswer {
  readonly code: status;
  readonly details: string;
  readonly trailers: Metadata;
  readonly body: Buffer | undefined;
}
type RawFn = (
  b: Buffer,
  cb: (e: ServiceError | null, r?: Buffer) => void,
) => { on(e: 'status', l: (s: StatusObject) => void): unknown };
const identity = (b: Buffer): Buffer => b;
const PATHS = [
  '/bluetill.v1.Authorization/Settle',
  '/bluetill.v1.Settlement/Settle',
  '/bluetill.v1.Settlement/GetSettlement',
  '/bluetill.v1.Settlement/SettleWithCode',
] as const;
let raw: Record<string, RawFn> & { close(): void };
/** A generic client of the fixture's server, sending and reading raw bytes. */
function openRaw(): void {
  const Raw = makeGenericClientConstructor(
    Object.fromEntries(
      PATHS.map((path) => [
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
  raw = new Raw(f.backend.address, f.credentialsFor('T-0001')) as unknown as typeof raw;
}
const rawCall = (path: (typeof PATHS)[number], bytes: Uint8Array) =>
  new Promise<RawAnswer>((resolve) => {
    let body: Buffer | undefined;
    raw[path]!(Buffer.from(bytes), (_e, r) => (body = r)).on('status', (s) =>
      resolve({ code: s.code, details: s.details, trailers: s.metadata, body }),
    );
  });

describe.each(fixtureStores)('declines on the wire over %s', (store) => {
  beforeAll(async () => {
    checked.clear();
    offsetMs = 0;
    f = await startBackendFixture({
      store,
      extraCards: fleetCards(1),
      clock: { now: () => Date.now() + offsetMs },
      shopper: { codesPerCardPerMinute: 1_000, paymentsPerCardPerMinute: 1_000 },
    });
    openRaw();
  }, 120_000);
  afterAll(() => {
    raw?.close();
    return f?.close();
  });

  describe('Authorize: every decline is OK with the declined response in the body', () => {
    it('unpredictable_number_invalid, card_authentication_failed (an unknown or expired card looks like a fake one), card_blocked, pin_missing', async () => {
      const alice = f.card('card-alice');
      await declines('Authorize', 'unpredictable_number_invalid', AuthorizeResponse.decode, () =>
        f.authorize({
          terminalId: 'T-0001',
          unpredictableNumber: Uint8Array.of(9, 9, 9, 9),
          sealedPinBlock: new Uint8Array(),
          card: alice.cardData(Uint8Array.of(9, 9, 9, 9)),
        }),
      );
      const ch = await f.challenge();
      const unknown = await declines(
        'Authorize',
        'card_authentication_failed',
        AuthorizeResponse.decode,
        () =>
          f.authorize({
            terminalId: 'T-0001',
            unpredictableNumber: ch.unpredictableNumber,
            sealedPinBlock: new Uint8Array(),
            card: { ...alice.cardData(ch.unpredictableNumber), pan: UNKNOWN_PAN },
          }),
      );
      expect(unknown.pinTriesLeft).toBe(0);
      await declines(
        'Authorize',
        'card_blocked',
        AuthorizeResponse.decode,
        async () => (await f.authorizeCard(f.card('card-eve'), '4321')).res,
      );
      await declines(
        'Authorize',
        'card_authentication_failed',
        AuthorizeResponse.decode,
        async () => (await f.authorizeCard(f.card('card-finn'), '4321')).res,
      );
      const other = await f.challenge();
      await declines('Authorize', 'card_authentication_failed', AuthorizeResponse.decode, () =>
        f.authorize({
          terminalId: 'T-0001',
          unpredictableNumber: other.unpredictableNumber,
          sealedPinBlock: new Uint8Array(),
          card: alice.cardData(Uint8Array.of(1, 2, 3, 4)),
        }),
      );
      const third = await f.challenge();
      const missing = await declines('Authorize', 'pin_missing', AuthorizeResponse.decode, () =>
        f.authorize({
          terminalId: 'T-0001',
          unpredictableNumber: third.unpredictableNumber,
          sealedPinBlock: new Uint8Array(),
          card: alice.cardData(third.unpredictableNumber),
        }),
      );
      expect(missing.pinTriesLeft).toBe(3);
    });

    it('pin_incorrect and pin_tries_exceeded, with the tries left in the response', async () => {
      const chen = f.card('card-chen');
      expect(
        (
          await declines(
            'Authorize',
            'pin_incorrect',
            AuthorizeResponse.decode,
            async () => (await f.authorizeCard(chen, '0000')).res,
          )
        ).pinTriesLeft,
      ).toBe(2);
      expect(
        (
          await declines(
            'Authorize',
            'pin_incorrect',
            AuthorizeResponse.decode,
            async () => (await f.authorizeCard(chen, '0000')).res,
          )
        ).pinTriesLeft,
      ).toBe(1);
      expect(
        (
          await declines(
            'Authorize',
            'pin_tries_exceeded',
            AuthorizeResponse.decode,
            async () => (await f.authorizeCard(chen, '0000')).res,
          )
        ).pinTriesLeft,
      ).toBe(0);
    });

    it('an approval is OK with no decline trailer', async () => {
      const { res } = await f.authorizeCard(f.card('card-alice'), '1234');
      expect(res.approved).toBe(true);
      const w = f.wire.at(-1)!;
      expect(w).toMatchObject({ method: 'Authorize', code: status.OK, trailer: [] });
    });
  });

  describe('Settle (Authorization and Settlement services) and GetSettlement', () => {
    it('each settlement rule that declines answers OK with the signed declined receipt in the response', async () => {
      const M = 'Authorization.Settle';
      const bob = f.card('card-bob');
      let a = await f.authorizeCard(bob, '2580');
      const forged = settleReq(bob, a.un, a.res.authorizationRef, 'd-crypt');
      forged.cryptogram = { ...forged.cryptogram!, arqc: forged.cryptogram!.arqc.map((b) => b ^ 0xff) };
      const crypt = await declines(M, 'cryptogram_invalid', SettleResponse.decode, () => f.settle(forged));
      expect(crypt.receipt?.receipt.length).toBeGreaterThan(0); // every field of the stored response travels
      await declines(M, 'terminal_unknown', SettleResponse.decode, () =>
        f.settle(settleReq(bob, a.un, a.res.authorizationRef, 'd-term', { merchantId: 'M-0002' })),
      );
      await declines(M, 'unknown_card', SettleResponse.decode, () =>
        f.settle({
          ...settleReq(bob, a.un, a.res.authorizationRef, 'd-card'),
          card: { ...bob.cardData(a.un), pan: UNKNOWN_PAN },
        }),
      );
      await declines(M, 'authorization_invalid', SettleResponse.decode, () =>
        f.settle(settleReq(bob, a.un, 'AUTH-none', 'd-auth')),
      );
      await declines(M, 'cvm_failed', SettleResponse.decode, () =>
        f.settle({
          ...settleReq(bob, a.un, a.res.authorizationRef, 'd-cvm'),
          cryptogram: bob.arqc(eur(700), a.un, undefined, {
            offlinePinPerformed: true,
            offlinePinFailed: true,
          }),
        }),
      );
      a = await f.authorizeCard(bob, '2580');
      const usd = { minor: 700, currency: 'USD' };
      await declines(M, 'currency_unsupported', SettleResponse.decode, () =>
        f.settle(
          settleReq(bob, a.un, a.res.authorizationRef, 'd-cur', {
            amount: usd,
            cryptogram: bob.arqc(usd, a.un),
          }),
        ),
      );
      const seven = eur(700);
      await declines(M, 'amount_mismatch', SettleResponse.decode, () =>
        f.settle(
          settleReq(bob, a.un, a.res.authorizationRef, 'd-sum', {
            amount: seven,
            items: [{ ...tea[0]!, quantity: 1 }],
            cryptogram: bob.arqc(seven, a.un),
          }),
        ),
      );
      const huge = eur(1_000_001);
      await declines(M, 'amount_limit_exceeded', SettleResponse.decode, () =>
        f.settle(
          settleReq(bob, a.un, a.res.authorizationRef, 'd-max', {
            amount: huge,
            items: itemsOf(huge),
            cryptogram: bob.arqc(huge, a.un),
          }),
        ),
      );
      expect((await f.settle(settleReq(bob, a.un, a.res.authorizationRef, 'd-ok', {}, 500))).approved).toBe(
        true,
      );
      a = await f.authorizeCard(bob, '2580');
      await declines(M, 'atc_replayed', SettleResponse.decode, () =>
        f.settle(settleReq(bob, a.un, a.res.authorizationRef, 'd-atc', {}, 500)),
      );
      const fleet = f.card('card-fleet-001');
      const fa = await f.authorizeCard(fleet, '1001');
      await f.registry((admin) => admin.setCardStatus('card-fleet-001', 'blocked')); // blocked between Authorize and Settle
      await declines(M, 'card_blocked', SettleResponse.decode, () =>
        f.settle(settleReq(fleet, fa.un, fa.res.authorizationRef, 'd-blocked')),
      );
      const dana = f.card('card-dana');
      const d = await f.authorizeCard(dana, '1111');
      const wine = eur(2500);
      await declines(M, 'insufficient_funds', SettleResponse.decode, () =>
        f.settle(
          settleReq(dana, d.un, d.res.authorizationRef, 'd-funds', {
            amount: wine,
            items: itemsOf(wine),
            cryptogram: dana.arqc(wine, d.un),
          }),
        ),
      );
      await declines('GetSettlement', 'insufficient_funds', SettleResponse.decode, () =>
        f.getSettlement('T-0001', 'd-funds'),
      );
      expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
    });

    it('a retried declined Settle gets the same status and the same bytes (exactly once, replayed)', async () => {
      const dana = f.card('card-dana');
      const d = await f.authorizeCard(dana, '1111');
      const wine = eur(2600);
      const req = SettleRequest.encode(
        settleReq(dana, d.un, d.res.authorizationRef, 'd-retry', {
          amount: wine,
          items: itemsOf(wine),
          cryptogram: dana.arqc(wine, d.un),
        }),
      ).finish();
      const postings = () => f.count('postings');
      const before = await postings();
      const answers = [
        await rawCall('/bluetill.v1.Authorization/Settle', req),
        await rawCall('/bluetill.v1.Authorization/Settle', req),
        await rawCall('/bluetill.v1.Settlement/Settle', req),
      ];
      for (const [i, x] of answers.entries()) {
        expect(x.code, `answer ${i}`).toBe(status.OK);
        expect(x.trailers.get(DECLINE_TRAILER_KEY)).toEqual([]);
        expect(x.body).toBeDefined();
      }
      const first = SettleResponse.decode(answers[0]!.body!);
      expect(first).toMatchObject({ approved: false, declineReason: 'insufficient_funds', replayed: false });
      // The retries are the stored response, marked replayed: byte for byte, whichever service answers.
      const replayed = Buffer.from(SettleResponse.encode({ ...first, replayed: true }).finish());
      expect(answers[1]!.body!.equals(replayed)).toBe(true);
      expect(answers[2]!.body!.equals(answers[1]!.body!)).toBe(true);
      const got = await rawCall(
        '/bluetill.v1.Settlement/GetSettlement',
        GetSettlementRequest.encode({ terminalId: 'T-0001', terminalTxnId: 'd-retry' }).finish(),
      );
      expect(got.code).toBe(status.OK);
      expect(got.body!.equals(replayed)).toBe(true);
      expect(await postings()).toBe(before);
    });

    it('an approved Settle is OK with the response in the body and no decline trailer', async () => {
      const alice = f.card('card-alice');
      const a = await f.authorizeCard(alice, '1234');
      const ans = await rawCall(
        '/bluetill.v1.Settlement/Settle',
        SettleRequest.encode(settleReq(alice, a.un, a.res.authorizationRef, 'd-approved')).finish(),
      );
      expect(ans.code).toBe(status.OK);
      expect(ans.trailers.get(DECLINE_TRAILER_KEY)).toEqual([]);
      expect(SettleResponse.decode(ans.body!)).toMatchObject({
        approved: true,
        declineReason: '',
        replayed: false,
      });
      const again = await rawCall(
        '/bluetill.v1.Settlement/GetSettlement',
        GetSettlementRequest.encode({ terminalId: 'T-0001', terminalTxnId: 'd-approved' }).finish(),
      );
      expect(again.code).toBe(status.OK);
      expect(again.trailers.get(DECLINE_TRAILER_KEY)).toEqual([]);
    });
  });

  describe('size: a declined largest basket comes back whole, in the response message', () => {
    const basket = (longNames: number): Item[] =>
      Array.from({ length: 200 }, (_, i) => ({
        sku: `s${String(i).padStart(3, '0')}`,
        name: i < longNames ? '€'.repeat(80) : `${'€'.repeat(25)}ab`,
        quantity: 1,
        unitPriceMinor: 100,
      }));

    it('the largest basket the edge accepts (200 items, ~16 KiB of 3-byte text), declined, comes back whole; a larger one is INVALID_ARGUMENT', async () => {
      const dana = f.card('card-dana');
      const a = await f.authorizeCard(dana, '1111');
      const amount = eur(200 * 100);
      const items = basket(0);
      expect(items.reduce((n, it) => n + it.sku.length + Buffer.byteLength(it.name), 0)).toBe(16_200);
      const res = await declines('Authorization.Settle', 'insufficient_funds', SettleResponse.decode, () =>
        f.settle(
          settleReq(dana, a.un, a.res.authorizationRef, 'd-big', {
            amount,
            items,
            cryptogram: dana.arqc(amount, a.un),
          }),
        ),
      );
      expect(Receipt.decode(res.receipt!.receipt).items).toHaveLength(200);
      expect(f.wire.at(-1)!.trailer).toHaveLength(0);
      await expect(
        f.settle(
          settleReq(dana, a.un, a.res.authorizationRef, 'd-bigger', {
            amount,
            items: basket(2),
            cryptogram: dana.arqc(amount, a.un),
          }),
        ),
      ).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('items: SKUs and names together'),
      });
    });
  });

  describe('SettleWithCode, IssueCode and PayMerchant', () => {
    async function sealed(
      card: TestCard,
      pin: string,
      context: Uint8Array,
      un: Uint8Array,
      pinKeyCert: Uint8Array,
    ) {
      const pinKey = verifyCertificate(pinKeyCert, root(), { role: 'pin-key', now: Date.now() });
      return sealPin({
        pin,
        pan: card.p.pan,
        pinKey: pinKey.publicKey,
        pinKeyId: pinKey.subjectId,
        context: context.length ? context : codePinContext(un),
      });
    }
    async function issue(
      cardId: string,
      pin: string,
      limit: Money,
      over: { pan?: string; un?: Uint8Array } = {},
    ) {
      const card = f.card(cardId);
      const ch = await f.shopper.challenge();
      const un = over.un ?? ch.unpredictableNumber;
      const data = card.cardData(un);
      return f.shopper.issueCode({
        unpredictableNumber: un,
        card: over.pan ? { ...data, pan: over.pan } : data,
        sealedPinBlock: await sealed(card, pin, codePinContext(un), un, ch.pinKeyCertificate),
        amountLimit: limit,
      });
    }
    const codeSale = (
      txn: string,
      code: string,
      amount: Money,
      over: Partial<SettleWithCodeRequest> = {},
    ): SettleWithCodeRequest => ({
      terminalId: 'T-0001',
      terminalTxnId: txn,
      merchantId: 'M-0001',
      code,
      amount,
      items: itemsOf(amount),
      ...over,
    });

    it('IssueCode: unpredictable_number_invalid, card_authentication_failed (unknown, expired), card_blocked, pin_incorrect, currency_unsupported, amount_limit_exceeded', async () => {
      const M = 'Shopper.IssueCode';
      await declines(M, 'unpredictable_number_invalid', IssueCodeResponse.decode, () =>
        issue('card-alice', '1234', eur(10_00), { un: Uint8Array.of(7, 7, 7, 7) }),
      );
      await declines(M, 'card_authentication_failed', IssueCodeResponse.decode, () =>
        issue('card-alice', '1234', eur(10_00), { pan: UNKNOWN_PAN }),
      );
      await declines(M, 'card_blocked', IssueCodeResponse.decode, () =>
        issue('card-eve', '4321', eur(10_00)),
      );
      await declines(M, 'card_authentication_failed', IssueCodeResponse.decode, () =>
        issue('card-finn', '4321', eur(10_00)),
      );
      const wrong = await declines(M, 'pin_incorrect', IssueCodeResponse.decode, () =>
        issue('card-bob', '0000', eur(10_00)),
      );
      expect(wrong).toMatchObject({ code: '', pinTriesLeft: 2 });
      await declines(M, 'currency_unsupported', IssueCodeResponse.decode, () =>
        issue('card-bob', '2580', { minor: 10_00, currency: 'USD' }),
      );
      await declines(M, 'amount_limit_exceeded', IssueCodeResponse.decode, () =>
        issue('card-bob', '2580', eur(1_000_001)),
      );
    });

    it('SettleWithCode on both services: code_invalid, code_used, code_limit_exceeded, terminal_unknown, amount_mismatch, insufficient_funds', async () => {
      const M = 'Authorization.SettleWithCode';
      const good = await issue('card-alice', '1234', eur(10_00));
      expect(good.approved).toBe(true);
      expect(f.wire.at(-1)).toMatchObject({ method: 'Shopper.IssueCode', code: status.OK, trailer: [] });
      await declines(M, 'code_limit_exceeded', SettleResponse.decode, () =>
        f.settleWithCode(codeSale('c-limit', good.code, eur(10_01))),
      );
      await declines(M, 'terminal_unknown', SettleResponse.decode, () =>
        f.settleWithCode(codeSale('c-term', good.code, eur(5_00), { merchantId: 'M-0002' })),
      );
      await declines(M, 'amount_mismatch', SettleResponse.decode, () =>
        f.settleWithCode(codeSale('c-sum', good.code, eur(5_00), { items: itemsOf(eur(4_00)) })),
      );
      expect((await f.settleWithCode(codeSale('c-ok', good.code, eur(5_00)))).approved).toBe(true);
      await declines(M, 'code_used', SettleResponse.decode, () =>
        f.settleWithCode(codeSale('c-used', good.code, eur(5_00))),
      );
      const wrong = good.code === '00000001' ? '00000002' : '00000001';
      await declines(M, 'code_invalid', SettleResponse.decode, () =>
        f.settleWithCode(codeSale('c-invalid', wrong, eur(1_00))),
      );
      const dana = await issue('card-dana', '1111', eur(30_00));
      await declines(M, 'insufficient_funds', SettleResponse.decode, () =>
        f.settleWithCode(codeSale('c-funds', dana.code, eur(25_00))),
      );
      const late = await issue('card-bob', '2580', eur(10_00));
      offsetMs = 6 * 60_000; // past the code's 5 minutes
      try {
        await declines(M, 'code_expired', SettleResponse.decode, () =>
          f.settleWithCode(codeSale('c-expired', late.code, eur(1_00))),
        );
      } finally {
        offsetMs = 0;
      }
      // The Settlement service's own SettleWithCode, raw.
      const direct = await rawCall(
        '/bluetill.v1.Settlement/SettleWithCode',
        SettleWithCodeRequest.encode(codeSale('c-direct', good.code, eur(1_00))).finish(),
      );
      expect(direct.code).toBe(status.OK);
      expect(direct.trailers.get(DECLINE_TRAILER_KEY)).toEqual([]);
      expect(SettleResponse.decode(direct.body!)).toMatchObject({
        approved: false,
        declineReason: 'code_used',
      });
      checked.get(M)!.add('code_used (Settlement service)');
    });

    it('SettleWithCode: code_attempts_exceeded after 10 wrong codes at the merchant (last: it shuts the merchant codes for 10 minutes)', async () => {
      const good = await issue('card-bob', '2580', eur(10_00));
      expect(good.approved).toBe(true);
      const used = new Set([good.code]);
      for (let i = 0; i < 10; i++) {
        let wrong = String(20_000_000 + i);
        if (used.has(wrong)) wrong = String(30_000_000 + i);
        await f.settleWithCode(codeSale(`c-guess-${i}`, wrong, eur(1_00)));
      }
      await declines('Authorization.SettleWithCode', 'code_attempts_exceeded', SettleResponse.decode, () =>
        f.settleWithCode(codeSale('c-guess-right', good.code, eur(1_00))),
      );
    });

    describe('PayMerchant', () => {
      async function pay(o: {
        mcard: string;
        card: string;
        pin: string;
        amount: Money;
        key: string;
        un?: Uint8Array;
        mcardPan?: string;
        mcardExpiry?: string;
        forgeArqc?: boolean;
      }) {
        const card = f.card(o.card);
        const mcard = f.card(o.mcard);
        const ch = await f.shopper.challenge();
        const un = o.un ?? ch.unpredictableNumber;
        const mc = mcard.cardData(un);
        const req: PayMerchantRequest = {
          idempotencyKey: o.key,
          unpredictableNumber: un,
          merchantCard: {
            ...mc,
            ...(o.mcardPan ? { pan: o.mcardPan } : {}),
            ...(o.mcardExpiry ? { expiry: o.mcardExpiry } : {}),
          },
          card: card.cardData(un),
          sealedPinBlock: await sealed(card, o.pin, merchantCardPinContext(un), un, ch.pinKeyCertificate),
          amount: o.amount,
          items: itemsOf(o.amount),
          cryptogram: card.arqc(o.amount, un),
        };
        if (o.forgeArqc)
          req.cryptogram = { ...req.cryptogram!, arqc: req.cryptogram!.arqc.map((b) => b ^ 0x5a) };
        return { req, res: await f.shopper.payMerchant(req) };
      }
      const M = 'Shopper.PayMerchant';
      const d = (fn: () => Promise<{ res: PayMerchantResponse }>) => async () => (await fn()).res;

      it('unpredictable_number_invalid, merchant_card_unknown, merchant_card_blocked, merchant_inactive, merchant_card_invalid, cryptogram_invalid, pin_incorrect, insufficient_funds; a retry is the same decline', async () => {
        await declines(
          M,
          'unpredictable_number_invalid',
          PayMerchantResponse.decode,
          d(() =>
            pay({
              mcard: 'mcard-corner',
              card: 'card-alice',
              pin: '1234',
              amount: eur(3_00),
              key: 'p-un-0001',
              un: Uint8Array.of(5, 5, 5, 5),
            }),
          ),
        );
        await declines(
          M,
          'merchant_card_unknown',
          PayMerchantResponse.decode,
          d(() =>
            pay({
              mcard: 'mcard-corner',
              card: 'card-alice',
              pin: '1234',
              amount: eur(3_00),
              key: 'p-unknown-01',
              mcardPan: '6799990900000000996',
            }),
          ),
        );
        await declines(
          M,
          'merchant_card_blocked',
          PayMerchantResponse.decode,
          d(() =>
            pay({
              mcard: 'mcard-blocked',
              card: 'card-alice',
              pin: '1234',
              amount: eur(3_00),
              key: 'p-blocked-01',
            }),
          ),
        );
        await declines(
          M,
          'merchant_inactive',
          PayMerchantResponse.decode,
          d(() =>
            pay({
              mcard: 'mcard-closed',
              card: 'card-alice',
              pin: '1234',
              amount: eur(3_00),
              key: 'p-closed-001',
            }),
          ),
        );
        await declines(
          M,
          'merchant_card_invalid',
          PayMerchantResponse.decode,
          d(() =>
            pay({
              mcard: 'mcard-corner',
              card: 'card-alice',
              pin: '1234',
              amount: eur(3_00),
              key: 'p-invalid-01',
              mcardExpiry: '3112',
            }),
          ),
        );
        await declines(
          M,
          'cryptogram_invalid',
          PayMerchantResponse.decode,
          d(() =>
            pay({
              mcard: 'mcard-corner',
              card: 'card-alice',
              pin: '1234',
              amount: eur(3_00),
              key: 'p-arqc-0001',
              forgeArqc: true,
            }),
          ),
        );
        const wrong = await declines(
          M,
          'pin_incorrect',
          PayMerchantResponse.decode,
          d(() =>
            pay({
              mcard: 'mcard-corner',
              card: 'card-alice',
              pin: '0000',
              amount: eur(3_00),
              key: 'p-pin-00001',
            }),
          ),
        );
        expect(wrong.pinTriesLeft).toBe(2);
        const funds = await pay({
          mcard: 'mcard-corner',
          card: 'card-dana',
          pin: '1111',
          amount: eur(25_00),
          key: 'p-funds-0001',
        });
        expect(funds.res).toMatchObject({
          approved: false,
          declineReason: 'insufficient_funds',
          replayed: false,
        });
        const first = lastWireDeclined<PayMerchantResponse>(M, 'insufficient_funds');
        expect(first.receipt?.signature.length).toBeGreaterThan(0);
        const again = await f.shopper.payMerchant(funds.req);
        expect(again).toMatchObject({ approved: false, declineReason: 'insufficient_funds', replayed: true });
        const retried = lastWireDeclined<PayMerchantResponse>(M, 'insufficient_funds');
        expect(Buffer.from(retried.receipt!.receipt).equals(Buffer.from(first.receipt!.receipt))).toBe(true);
        expect(await f.backend.store.read((tx) => tx.ledgerSum())).toBe(0);
      });
    });
  });

  describe('Refund and Void (both services)', () => {
    it('original_not_found, not_refundable, currency_unsupported, refund_exceeds_original, not_voidable', async () => {
      const sale = await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'r-sale', minor: 10_00 });
      expect(sale.approved).toBe(true);
      const dana = f.card('card-dana');
      const a = await f.authorizeCard(dana, '1111');
      const wine = eur(3000);
      expect(
        (
          await f.settle(
            settleReq(dana, a.un, a.res.authorizationRef, 'r-declined', {
              amount: wine,
              items: itemsOf(wine),
              cryptogram: dana.arqc(wine, a.un),
            }),
          )
        ).approved,
      ).toBe(false);
      for (const [prefix, c] of [
        ['Authorization.', f],
        ['', f.direct],
      ] as const) {
        const refund = (txn: string, id: string, amount: Money) => () =>
          c.refund({ terminalId: 'T-0001', terminalTxnId: txn, refundTxnId: `${prefix}${id}`, amount });
        await declines(
          `${prefix}Refund`,
          'original_not_found',
          RefundResponse.decode,
          refund('r-none', 'rf-1', eur(1_00)),
        );
        await declines(
          `${prefix}Refund`,
          'not_refundable',
          RefundResponse.decode,
          refund('r-declined', 'rf-2', eur(1_00)),
        );
        await declines(
          `${prefix}Refund`,
          'currency_unsupported',
          RefundResponse.decode,
          refund('r-sale', 'rf-3', { minor: 1_00, currency: 'USD' }),
        );
        const over = await declines(
          `${prefix}Refund`,
          'refund_exceeds_original',
          RefundResponse.decode,
          refund('r-sale', 'rf-4', eur(10_01)),
        );
        expect(over.refundableLeft).toEqual(eur(10_00));
        await declines(`${prefix}Void`, 'original_not_found', VoidResponse.decode, () =>
          c.voidSale({ terminalId: 'T-0001', terminalTxnId: 'r-none' }),
        );
        await declines(`${prefix}Void`, 'not_voidable', VoidResponse.decode, () =>
          c.voidSale({ terminalId: 'T-0001', terminalTxnId: 'r-declined' }),
        );
      }
      expect((await f.voidSale({ terminalId: 'T-0001', terminalTxnId: 'r-sale' })).approved).toBe(true);
      expect(f.wire.at(-1)).toMatchObject({ method: 'Authorization.Void', code: status.OK, trailer: [] });
    });
  });

  describe('coverage of this file', () => {
    it('checked the raw status of each decline reason listed here, on each RPC that can decline', () => {
      const expected: Record<string, string[]> = {
        Authorize: [
          'unpredictable_number_invalid',
          'card_authentication_failed',
          'card_blocked',
          'pin_missing',
          'pin_incorrect',
          'pin_tries_exceeded',
        ],
        'Authorization.Settle': [
          'cryptogram_invalid',
          'terminal_unknown',
          'unknown_card',
          'authorization_invalid',
          'cvm_failed',
          'currency_unsupported',
          'amount_mismatch',
          'amount_limit_exceeded',
          'atc_replayed',
          'card_blocked',
          'insufficient_funds',
        ],
        GetSettlement: ['insufficient_funds'],
        'Authorization.SettleWithCode': [
          'code_limit_exceeded',
          'terminal_unknown',
          'amount_mismatch',
          'code_used',
          'code_invalid',
          'insufficient_funds',
          'code_expired',
          'code_attempts_exceeded',
          'code_used (Settlement service)',
        ],
        'Shopper.IssueCode': [
          'unpredictable_number_invalid',
          'card_authentication_failed',
          'card_blocked',
          'pin_incorrect',
          'currency_unsupported',
          'amount_limit_exceeded',
        ],
        'Shopper.PayMerchant': [
          'unpredictable_number_invalid',
          'merchant_card_unknown',
          'merchant_card_blocked',
          'merchant_inactive',
          'merchant_card_invalid',
          'cryptogram_invalid',
          'pin_incorrect',
          'insufficient_funds',
        ],
        'Authorization.Refund': [
          'original_not_found',
          'not_refundable',
          'currency_unsupported',
          'refund_exceeds_original',
        ],
        Refund: ['original_not_found', 'not_refundable', 'currency_unsupported', 'refund_exceeds_original'],
        'Authorization.Void': ['original_not_found', 'not_voidable'],
        Void: ['original_not_found', 'not_voidable'],
      };
      expect(Object.fromEntries([...checked].map(([m, s]) => [m, [...s].sort()]))).toEqual(
        Object.fromEntries(Object.entries(expected).map(([m, s]) => [m, [...s].sort()])),
      );
    });
  });
});
