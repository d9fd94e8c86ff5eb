import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DECLINE_TRAILER_KEY,
  DECLINE_TRAILER_MAX_BYTES,
  callDeclinable,
  DeclineTrailerError,
  decodeDeclineTrailer,
  declineFromStatus,
  declineStatusDetails,
  encodeDeclineTrailer,
  isDeclinedResponse,
} from './grpc-decline';
import { DECLINE_CODES, declineText } from './decline-codes';
import { AuthorizeResponse, RefundResponse, SettleResponse } from './gen/bluetill/v1/settlement_network';
import { IssueCodeResponse, PayMerchantResponse } from './gen/bluetill/v1/shopper';

const encodeSettle = (r: SettleResponse) => SettleResponse.encode(r).finish();
const declinedSettle = (reason: string): SettleResponse => ({
  approved: false,
  declineReason: reason,
  replayed: true,
  receipt: {
    receipt: Uint8Array.from([1, 2, 3, 4]),
    signature: Uint8Array.from([9, 8, 7]),
    keyId: 'receipt-key-1',
    certificate: Uint8Array.from([5, 5]),
  },
});

describe('grpc-decline', () => {
  it('is a -bin key (grpc carries the value as bytes)', () => {
    expect(DECLINE_TRAILER_KEY).toBe('bluetill-decline-bin');
    expect(DECLINE_TRAILER_KEY.endsWith('-bin')).toBe(true);
  });

  it('details are "<code>: <text>" for every normalized code', () => {
    for (const code of DECLINE_CODES)
      expect(declineStatusDetails(code)).toBe(`${code}: ${declineText(code)}`);
    expect(declineStatusDetails('some_new_code')).toBe('some_new_code: declined');
  });

  it('an unset or false approved is a decline, only true is an approval', () => {
    expect(isDeclinedResponse({ approved: false, declineReason: 'pin_incorrect' })).toBe(true);
    expect(isDeclinedResponse({ approved: undefined as unknown as boolean, declineReason: '' })).toBe(true);
    expect(isDeclinedResponse({ approved: true, declineReason: '' })).toBe(false);
    expect(() =>
      encodeDeclineTrailer({ approved: true, declineReason: '', replayed: false }, encodeSettle),
    ).toThrow(/approved/);
  });

  it('refuses to encode a decline too large for a trailer a client can receive', () => {
    const big = declinedSettle('card_blocked');
    const fits = {
      ...big,
      receipt: { ...big.receipt!, receipt: new Uint8Array(DECLINE_TRAILER_MAX_BYTES - 200) },
    };
    expect(encodeDeclineTrailer(fits, encodeSettle).length).toBeLessThanOrEqual(DECLINE_TRAILER_MAX_BYTES);
    const over = { ...big, receipt: { ...big.receipt!, receipt: new Uint8Array(DECLINE_TRAILER_MAX_BYTES) } };
    expect(() => encodeDeclineTrailer(over, encodeSettle)).toThrow(
      expect.objectContaining({ code: 'trailer_too_large' }),
    );
  });

  it('round trip: every field of each declinable response comes back', () => {
    const settle = declinedSettle('insufficient_funds');
    const bytes = encodeDeclineTrailer(settle, encodeSettle);
    expect(
      decodeDeclineTrailer(
        [Uint8Array.from(bytes)],
        declineStatusDetails('insufficient_funds'),
        SettleResponse.decode,
      ),
    ).toEqual(settle);
    // grpc-js hands over a Buffer: the fields come back as Buffers, the same bytes
    const fromBuffer = decodeDeclineTrailer(
      [Buffer.from(bytes)],
      declineStatusDetails('insufficient_funds'),
      SettleResponse.decode,
    );
    expect(encodeSettle(fromBuffer)).toEqual(bytes);
    const auth: AuthorizeResponse = {
      approved: false,
      declineReason: 'pin_incorrect',
      authorizationRef: '',
      expiresAtMs: 0,
      pinTriesLeft: 2,
    };
    expect(
      decodeDeclineTrailer(
        [AuthorizeResponse.encode(auth).finish()],
        declineStatusDetails('pin_incorrect'),
        AuthorizeResponse.decode,
      ),
    ).toEqual(auth);
    const refund: RefundResponse = {
      approved: false,
      declineReason: 'refund_exceeds_original',
      replayed: false,
      refundableLeft: { minor: 250, currency: 'EUR' },
    };
    expect(
      decodeDeclineTrailer(
        [RefundResponse.encode(refund).finish()],
        declineStatusDetails(refund.declineReason),
        RefundResponse.decode,
      ),
    ).toEqual(refund);
    const code: IssueCodeResponse = {
      approved: false,
      declineReason: 'pin_incorrect',
      code: '',
      expiresAtMs: 0,
      pinTriesLeft: 1,
      maskedPan: '679999*********0019',
    };
    expect(
      decodeDeclineTrailer(
        [IssueCodeResponse.encode(code).finish()],
        declineStatusDetails(code.declineReason),
        IssueCodeResponse.decode,
      ),
    ).toEqual(code);
    const pay: PayMerchantResponse = {
      approved: false,
      declineReason: 'merchant_card_unknown',
      replayed: false,
      pinTriesLeft: 3,
    };
    expect(
      decodeDeclineTrailer(
        [PayMerchantResponse.encode(pay).finish()],
        declineStatusDetails(pay.declineReason),
        PayMerchantResponse.decode,
      ),
    ).toEqual(pay);
  });

  it('refuses a missing, doubled or text trailer', () => {
    const bytes = encodeSettle(declinedSettle('card_blocked'));
    const details = declineStatusDetails('card_blocked');
    for (const values of [undefined, [], [bytes, bytes]]) {
      expect(() => decodeDeclineTrailer(values, details, SettleResponse.decode)).toThrow(
        expect.objectContaining({ code: 'trailer_missing' }),
      );
    }
    expect(() => decodeDeclineTrailer(['card_blocked'], details, SettleResponse.decode)).toThrow(
      expect.objectContaining({ code: 'trailer_garbled' }),
    );
  });

  it('refuses bytes that do not decode, an approval, a decline with no reason, or a reason other than the details name', () => {
    const details = declineStatusDetails('card_blocked');
    expect(() =>
      decodeDeclineTrailer([Uint8Array.from([0x0a, 0xff])], details, SettleResponse.decode),
    ).toThrow(expect.objectContaining({ code: 'trailer_garbled' }));
    const approved = encodeSettle({ approved: true, declineReason: '', replayed: false });
    expect(() => decodeDeclineTrailer([approved], details, SettleResponse.decode)).toThrow(
      expect.objectContaining({ code: 'trailer_not_a_decline' }),
    );
    expect(() => decodeDeclineTrailer([new Uint8Array(0)], details, SettleResponse.decode)).toThrow(
      expect.objectContaining({ code: 'trailer_not_a_decline' }),
    );
    const other = encodeSettle(declinedSettle('insufficient_funds'));
    expect(() => decodeDeclineTrailer([other], details, SettleResponse.decode)).toThrow(
      expect.objectContaining({ code: 'trailer_not_a_decline' }),
    );
  });

  it('property: any bytes and details give back a decline that matches the details, or a DeclineTrailerError, never an approval', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 40 }), (bytes, details) => {
        try {
          const res = decodeDeclineTrailer([bytes], details, SettleResponse.decode);
          expect(res.approved).toBe(false);
          expect(res.declineReason).not.toBe('');
          expect(details.startsWith(`${res.declineReason}:`)).toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(DeclineTrailerError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('property: any declined SettleResponse round-trips byte for byte', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DECLINE_CODES),
        fc.boolean(),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.string({ maxLength: 20 }),
        (reason, replayed, receipt, signature, keyId) => {
          const res: SettleResponse = {
            approved: false,
            declineReason: reason,
            replayed,
            receipt: { receipt, signature, keyId, certificate: signature },
          };
          const bytes = encodeDeclineTrailer(res, encodeSettle);
          const back = decodeDeclineTrailer([bytes], declineStatusDetails(reason), SettleResponse.decode);
          expect(encodeSettle(back)).toEqual(bytes);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('declineFromStatus', () => {
  const md = (values: (Uint8Array | string)[]) => ({
    get: (key: string) => (key === DECLINE_TRAILER_KEY ? values : []),
  });
  it('gives the response of a FAILED_PRECONDITION, null for any other status', () => {
    const res = declinedSettle('code_used');
    const bytes = encodeSettle(res);
    expect(
      declineFromStatus(
        { code: 9, details: declineStatusDetails('code_used'), metadata: md([bytes]) },
        SettleResponse.decode,
      ),
    ).toEqual(res);
    expect(declineFromStatus(null, SettleResponse.decode)).toBeNull();
    for (const code of [0, 3, 4, 5, 6, 7, 8, 13, 14])
      expect(
        declineFromStatus({ code, details: 'x', metadata: md([bytes]) }, SettleResponse.decode),
      ).toBeNull();
  });
  it('a FAILED_PRECONDITION with no metadata, no trailer or a garbled one is a DeclineTrailerError', () => {
    const details = declineStatusDetails('code_used');
    expect(() => declineFromStatus({ code: 9, details }, SettleResponse.decode)).toThrow(DeclineTrailerError);
    expect(() => declineFromStatus({ code: 9, details, metadata: md([]) }, SettleResponse.decode)).toThrow(
      DeclineTrailerError,
    );
    expect(() =>
      declineFromStatus(
        { code: 9, details, metadata: md([Uint8Array.from([0xff, 0xff, 0xff])]) },
        SettleResponse.decode,
      ),
    ).toThrow(DeclineTrailerError);
    expect(() =>
      declineFromStatus(
        { code: 9, metadata: md([encodeSettle(declinedSettle('code_used'))]) },
        SettleResponse.decode,
      ),
    ).toThrow(DeclineTrailerError);
  });
});

describe('callDeclinable', () => {
  const status = (code: number, details: string, values?: Uint8Array[]) =>
    Object.assign(new Error(details), {
      code,
      details,
      metadata: { get: (k: string) => (k === DECLINE_TRAILER_KEY ? (values ?? []) : []) },
    });
  const decode = (b: Uint8Array) => SettleResponse.decode(b);

  it('an answer resolves as it came; a decline status resolves to the declined response', async () => {
    const ok: SettleResponse = { approved: true, declineReason: '', replayed: false };
    await expect(callDeclinable<SettleResponse>((cb) => cb(null, ok), decode)).resolves.toBe(ok);
    const declined = declinedSettle('insufficient_funds');
    const err = status(9, declineStatusDetails('insufficient_funds'), [
      encodeDeclineTrailer(declined, encodeSettle),
    ]);
    await expect(
      callDeclinable<SettleResponse>((cb) => cb(err, undefined as never), decode),
    ).resolves.toMatchObject({ approved: false, declineReason: 'insufficient_funds' });
  });

  it('other statuses reject with the error itself; a garbled decline rejects with a DeclineTrailerError, never an approval', async () => {
    const unavailable = status(14, 'unavailable');
    await expect(
      callDeclinable<SettleResponse>((cb) => cb(unavailable, undefined as never), decode),
    ).rejects.toBe(unavailable);
    const garbled = status(9, declineStatusDetails('insufficient_funds'), [Uint8Array.of(0xff, 0xff, 0xff)]);
    await expect(
      callDeclinable<SettleResponse>((cb) => cb(garbled, undefined as never), decode),
    ).rejects.toBeInstanceOf(DeclineTrailerError);
    // Without a decoder (a method that cannot decline), FAILED_PRECONDITION is an error like any other.
    const noDecoder = status(9, 'insufficient_funds: x', [
      encodeDeclineTrailer(declinedSettle('insufficient_funds'), encodeSettle),
    ]);
    await expect(callDeclinable<SettleResponse>((cb) => cb(noDecoder, undefined as never))).rejects.toBe(
      noDecoder,
    );
  });
});
