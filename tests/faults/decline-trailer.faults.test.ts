/**
 * The clients' side of how declines travel. The backend answers a decline OK with the response
 * message in the body; the till's client (GrpcBackendClient) and the phone's (GrpcShopperBackend)
 * also read a decline carried as FAILED_PRECONDITION with the response in the
 * `bluetill-decline-bin` trailer (a peer of the earlier wire contract). Against (1) the real
 * backend: real declines come back as response values; and (2) a fake backend (a real grpc-js
 * server on 127.0.0.1 with the backend's TLS material) answering FAILED_PRECONDITION with the
 * trailer valid, missing, garbled, an approval, or naming another code: each client reads the
 * valid one, fails with a clear error on the others, at once (no retry), and never reports an
 * approval; the test fixture, which holds the backend to the response-message contract, refuses
 * every FAILED_PRECONDITION.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerUnaryCall,
  type ServiceError,
  type sendUnaryData,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import {
  AuthorizationService,
  DECLINE_TRAILER_KEY,
  IssueCodeRequest,
  IssueCodeResponse,
  PayMerchantRequest,
  PayMerchantResponse,
  RefundResponse,
  SettleResponse,
  SettlementService,
  ShopperService,
  codePinContext,
  declineStatusDetails,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  type DeclinableResponse,
} from '@bluetill/protocol';
import { BackendError, GrpcBackendClient } from '@bluetill/pos-terminal';
import { GrpcShopperBackend, ShopperBackendError } from '@bluetill/phone-agent';
import { readServerTls, readTerminalTls } from '@bluetill/backend';
import {
  shopperClients,
  startBackendFixture,
  type BackendFixture,
} from '../../backend/src/test-support/backend-fixture';

let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture();
}, 60_000);
afterAll(() => f?.close());

const sealedPinFor = (cardId: string, pin: string, un: Uint8Array, pinKeyCertificate: Uint8Array) => {
  const pinKey = verifyCertificate(
    pinKeyCertificate,
    publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
    { role: 'pin-key', now: Date.now() },
  );
  return sealPin({
    pin,
    pan: f.card(cardId).p.pan,
    pinKey: pinKey.publicKey,
    pinKeyId: pinKey.subjectId,
    context: codePinContext(un),
  });
};

describe('against the real backend: declines are the same values as before', () => {
  it('the till client gets Authorize, Settle, GetSettlement, Refund and Void declines as values', async () => {
    const till = new GrpcBackendClient({
      authorizationAddress: f.backend.address,
      terminalId: 'T-0001',
      tls: readTerminalTls(f.seed.tlsDir, 'T-0001'),
      attempts: 1,
    });
    try {
      const card = f.card('card-dana');
      const ch = await till.challenge();
      const auth = await till.authorize({
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: new Uint8Array(),
        card: card.cardData(ch.unpredictableNumber),
      });
      expect(auth).toMatchObject({ approved: false, declineReason: 'pin_missing', pinTriesLeft: 3 });
      const { un, res } = await f.authorizeCard(card, '1111');
      const amount = { minor: 9_000, currency: 'EUR' };
      const req = {
        terminalId: 'T-0001',
        terminalTxnId: 'tc-funds',
        merchantId: 'M-0001',
        authorizationRef: res.authorizationRef,
        card: card.cardData(un),
        amount,
        items: [{ sku: 'tv', name: 'TV', quantity: 1, unitPriceMinor: 9_000 }],
        cryptogram: card.arqc(amount, un),
      };
      const settled = await till.settle(req);
      expect(settled).toMatchObject({
        approved: false,
        declineReason: 'insufficient_funds',
        replayed: false,
      });
      expect(settled.receipt?.signature.length).toBeGreaterThan(0);
      expect(await till.settle(req)).toMatchObject({
        approved: false,
        declineReason: 'insufficient_funds',
        replayed: true,
        receipt: { receipt: settled.receipt!.receipt },
      });
      expect(await till.getSettlement('tc-funds')).toMatchObject({
        approved: false,
        declineReason: 'insufficient_funds',
        replayed: true,
      });
      expect(await till.getSettlement('tc-never')).toBeNull(); // NOT_FOUND is still null
      expect(
        await till.refund({
          terminalTxnId: 'tc-funds',
          refundTxnId: 'tc-rf-1',
          amount: { minor: 1, currency: 'EUR' },
        }),
      ).toMatchObject({ approved: false, declineReason: 'not_refundable' });
      expect(await till.voidSale('tc-funds')).toMatchObject({
        approved: false,
        declineReason: 'not_voidable',
      });
    } finally {
      till.close();
    }
  });

  it('the phone client gets IssueCode declines as values', async () => {
    const phone = new GrpcShopperBackend({
      address: f.shopperAddress,
      backendCa: Buffer.from(f.seed.trust.backendTlsCa!),
    });
    try {
      const ch = await phone.challenge();
      const card = f.card('card-bob');
      const res = await phone.issueCode({
        unpredictableNumber: ch.unpredictableNumber,
        card: card.cardData(ch.unpredictableNumber),
        sealedPinBlock: sealedPinFor('card-bob', '0000', ch.unpredictableNumber, ch.pinKeyCertificate),
        amountLimit: { minor: 5_00, currency: 'EUR' },
      });
      expect(res).toMatchObject({
        approved: false,
        declineReason: 'pin_incorrect',
        code: '',
        pinTriesLeft: 2,
      });
    } finally {
      phone.close();
    }
  });
});

type Mode = 'valid' | 'missing' | 'garbled' | 'approved' | 'other-code' | 'empty';
const reply = (
  mode: Mode,
  res: DeclinableResponse,
  encode: (r: never) => Uint8Array,
): Partial<ServiceError> => {
  const metadata = new Metadata();
  const put = (bytes: Uint8Array) => metadata.set(DECLINE_TRAILER_KEY, Buffer.from(bytes));
  const details = declineStatusDetails(res.declineReason);
  if (mode === 'valid') put(encode(res as never));
  if (mode === 'garbled') put(Uint8Array.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x01]));
  if (mode === 'approved') put(encode({ ...res, approved: true, declineReason: '' } as never));
  if (mode === 'empty') put(new Uint8Array(0));
  if (mode === 'other-code') {
    put(encode(res as never));
    return {
      code: status.FAILED_PRECONDITION,
      details: declineStatusDetails('insufficient_funds'),
      metadata,
    };
  }
  return { code: status.FAILED_PRECONDITION, details, metadata };
};

describe('against a backend that answers FAILED_PRECONDITION with a bad trailer', () => {
  let server: Server;
  let address: string;
  let mode: Mode = 'valid';
  const calls = new Map<string, number>();
  const declined: SettleResponse = {
    approved: false,
    declineReason: 'card_blocked',
    replayed: false,
    receipt: {
      receipt: Uint8Array.of(1, 2, 3),
      signature: Uint8Array.of(4, 5),
      keyId: 'k',
      certificate: Uint8Array.of(6),
    },
  };
  const issueDeclined: IssueCodeResponse = {
    approved: false,
    declineReason: 'pin_incorrect',
    code: '',
    expiresAtMs: 0,
    pinTriesLeft: 1,
    maskedPan: '679999*********0027',
  };
  const refundDeclined: RefundResponse = {
    approved: false,
    declineReason: 'not_refundable',
    replayed: false,
    refundableLeft: { minor: 0, currency: 'EUR' },
  };
  const payDeclined: PayMerchantResponse = {
    approved: false,
    declineReason: 'merchant_card_blocked',
    replayed: false,
    pinTriesLeft: 3,
  };
  const handler =
    (name: string, res: DeclinableResponse, encode: (r: never) => Uint8Array) =>
    (_call: ServerUnaryCall<unknown, unknown>, cb: sendUnaryData<unknown>) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      cb(reply(mode, res, encode));
    };
  const encSettle = (r: SettleResponse) => SettleResponse.encode(r).finish();
  const fakeSettle = (name: string) => handler(name, declined, encSettle as (r: never) => Uint8Array);

  beforeAll(async () => {
    const tls = readServerTls(f.seed.tlsDir);
    server = new Server();
    server.addService(AuthorizationService, {
      settle: fakeSettle('Settle'),
      settleWithCode: fakeSettle('SettleWithCode'),
      refund: handler('Refund', refundDeclined, ((r: RefundResponse) =>
        RefundResponse.encode(r).finish()) as (r: never) => Uint8Array),
    } as UntypedServiceImplementation);
    server.addService(SettlementService, {
      getSettlement: fakeSettle('GetSettlement'),
    } as UntypedServiceImplementation);
    server.addService(ShopperService, {
      issueCode: handler('IssueCode', issueDeclined, ((r: IssueCodeResponse) =>
        IssueCodeResponse.encode(r).finish()) as (r: never) => Uint8Array),
      payMerchant: handler('PayMerchant', payDeclined, ((r: PayMerchantResponse) =>
        PayMerchantResponse.encode(r).finish()) as (r: never) => Uint8Array),
    } as UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        ServerCredentials.createSsl(tls.ca, [{ cert_chain: tls.cert, private_key: tls.key }], false),
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
    address = `127.0.0.1:${port}`;
  });
  afterAll(() => server?.forceShutdown());

  const settleReq = {
    terminalId: 'T-0001',
    terminalTxnId: 'fake-1',
    merchantId: 'M-0001',
    authorizationRef: 'AUTH-x',
    card: undefined,
    amount: { minor: 100, currency: 'EUR' },
    items: [],
    cryptogram: undefined,
  };
  const BAD: ReadonlyArray<[Mode, string]> = [
    ['missing', 'trailer_missing'],
    ['garbled', 'trailer_garbled'],
    ['approved', 'trailer_not_a_decline'],
    ['other-code', 'trailer_not_a_decline'],
    ['empty', 'trailer_not_a_decline'],
  ];

  it('a valid trailer is decoded to every field, by each client', async () => {
    mode = 'valid';
    const till = new GrpcBackendClient({
      authorizationAddress: address,
      terminalId: 'T-0001',
      tls: readTerminalTls(f.seed.tlsDir, 'T-0001'),
      attempts: 3,
      backoffMs: 10,
    });
    const phone = new GrpcShopperBackend({
      address,
      backendCa: Buffer.from(f.seed.trust.backendTlsCa!),
      attempts: 3,
      backoffMs: 10,
    });
    const fixture = shopperClients(address, Buffer.from(f.seed.trust.backendTlsCa!));
    try {
      expect(SettleResponse.encode(await till.settle(settleReq)).finish()).toEqual(
        SettleResponse.encode(declined).finish(),
      );
      expect(await till.getSettlement('fake-1')).toMatchObject({
        approved: false,
        declineReason: 'card_blocked',
        receipt: { keyId: 'k' },
      });
      expect(
        await phone.issueCode({
          unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
          card: undefined,
          sealedPinBlock: new Uint8Array(),
          amountLimit: undefined,
        }),
      ).toEqual(issueDeclined);
      expect(await phone.payMerchant(PayMerchantRequest.fromPartial({}))).toMatchObject(payDeclined);
      await expect(fixture.issueCode(IssueCodeRequest.fromPartial({}))).rejects.toThrow(
        /a decline as FAILED_PRECONDITION/,
      );
    } finally {
      till.close();
      phone.close();
      fixture.close();
    }
  });

  it.each(BAD)(
    'trailer %s: the till fails with BackendError rejected (%s), at once, never approved',
    async (m, code) => {
      mode = m;
      calls.clear();
      const till = new GrpcBackendClient({
        authorizationAddress: address,
        terminalId: 'T-0001',
        tls: readTerminalTls(f.seed.tlsDir, 'T-0001'),
        attempts: 3,
        backoffMs: 10,
      });
      try {
        for (const [name, call] of [
          ['Settle', () => till.settle(settleReq)],
          [
            'SettleWithCode',
            () =>
              till.settleWithCode({
                terminalId: 'T-0001',
                terminalTxnId: 'fake-2',
                merchantId: 'M-0001',
                code: '12345678',
                amount: { minor: 100, currency: 'EUR' },
                items: [],
              }),
          ],
          ['GetSettlement', () => till.getSettlement('fake-1')],
          [
            'Refund',
            () =>
              till.refund({
                terminalTxnId: 'fake-1',
                refundTxnId: 'fake-rf',
                amount: { minor: 1, currency: 'EUR' },
              }),
          ],
        ] as const) {
          const e = await (call as () => Promise<unknown>)().then(
            (v) => ({ resolved: v }),
            (err: unknown) => err,
          );
          expect(e, name).toBeInstanceOf(BackendError);
          expect(e).toMatchObject({
            code: 'rejected',
            message: expect.stringMatching(
              new RegExp(`^${name}: a decline the till cannot read \\(${code}\\)`),
            ),
          });
          expect(calls.get(name), `${name} not retried`).toBe(1);
        }
      } finally {
        till.close();
      }
    },
  );

  it.each(BAD)(
    'trailer %s: the phone fails with ShopperBackendError rejected (%s), at once; the fixture rejects too',
    async (m, code) => {
      mode = m;
      calls.clear();
      const phone = new GrpcShopperBackend({
        address,
        backendCa: Buffer.from(f.seed.trust.backendTlsCa!),
        attempts: 3,
        backoffMs: 10,
      });
      const fixture = shopperClients(address, Buffer.from(f.seed.trust.backendTlsCa!));
      try {
        await expect(phone.issueCode(IssueCodeRequest.fromPartial({}))).rejects.toSatisfy(
          (e: unknown) =>
            e instanceof ShopperBackendError &&
            e.code === 'rejected' &&
            e.message.startsWith(`IssueCode: a decline the phone cannot read (${code})`),
        );
        await expect(phone.payMerchant(PayMerchantRequest.fromPartial({}))).rejects.toSatisfy(
          (e: unknown) =>
            e instanceof ShopperBackendError && e.code === 'rejected' && e.message.includes(`(${code})`),
        );
        expect(calls.get('PayMerchant'), 'PayMerchant not retried').toBe(1);
        await expect(fixture.payMerchant(PayMerchantRequest.fromPartial({}))).rejects.toThrow(
          /a decline as FAILED_PRECONDITION/,
        );
      } finally {
        phone.close();
        fixture.close();
      }
    },
  );
});
