import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeProto } from './encode-proto';
import { Receipt } from './gen/bluetill/v1/common';
import { SettleRequest, SettleResponse } from './gen/bluetill/v1/settlement_network';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const settleRequest = fc.record(
  {
    terminalId: fc.string({ maxLength: 12 }),
    terminalTxnId: fc.string({ maxLength: 40 }),
    merchantId: fc.string({ maxLength: 12 }),
    authorizationRef: fc.string({ maxLength: 60 }),
    card: fc.record(
      {
        pan: fc.stringMatching(/^[0-9]{0,19}$/),
        expiry: fc.string({ maxLength: 4 }),
        panSequence: fc.nat(99),
        cardholderName: fc.string({ maxLength: 26 }),
        records: bytes(600),
        signedDynamicData: bytes(260),
      },
      { requiredKeys: [] },
    ),
    amount: fc.record({ minor: fc.nat(), currency: fc.constantFrom('EUR', 'USD', '') }),
    items: fc.array(
      fc.record({
        sku: fc.string({ maxLength: 8 }),
        name: fc.string({ maxLength: 30 }),
        quantity: fc.nat(99),
        unitPriceMinor: fc.nat(),
      }),
      { maxLength: 12 },
    ),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Partial<SettleRequest>>;
const receipt = fc.record(
  {
    receiptId: fc.string({ maxLength: 40 }),
    merchantName: fc.string({ maxLength: 40 }),
    maskedPan: fc.string({ maxLength: 19 }),
    issuedAtMs: fc.nat(),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<Partial<Receipt>>;

describe('encodeProto', () => {
  it('gives the bytes a fresh writer gives, for random messages of several types in any order', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            settleRequest.map((m) => ['req', m] as const),
            receipt.map((m) => ['receipt', m] as const),
          ),
          { minLength: 1, maxLength: 8 },
        ),
        (list) => {
          for (const [kind, m] of list) {
            const [ours, fresh] =
              kind === 'req'
                ? [
                    encodeProto(SettleRequest, SettleRequest.fromPartial(m)),
                    SettleRequest.encode(SettleRequest.fromPartial(m)).finish(),
                  ]
                : [
                    encodeProto(Receipt, Receipt.fromPartial(m)),
                    Receipt.encode(Receipt.fromPartial(m)).finish(),
                  ];
            expect(Buffer.from(ours).equals(Buffer.from(fresh))).toBe(true);
            expect(ours.byteOffset === 0 && ours.byteLength === ours.buffer.byteLength).toBe(true); // a whole buffer of its own
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns arrays that later encodings do not change', () => {
    const a = encodeProto(SettleResponse, {
      approved: true,
      declineReason: '',
      replayed: false,
      receipt: undefined,
    });
    const copy = Uint8Array.from(a);
    encodeProto(SettleResponse, {
      approved: false,
      declineReason: 'x'.repeat(300),
      replayed: true,
      receipt: undefined,
    });
    expect(a).toEqual(copy);
  });

  it('drops a writer an encoder threw inside: the next message is whole', () => {
    const good = SettleRequest.fromPartial({
      terminalId: 'T-0001',
      terminalTxnId: 'txn-1',
      amount: { minor: 250, currency: 'EUR' },
      items: [{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 250 }],
    });
    // Throws in the middle: after the terminal id and inside the nested amount (an int64 that is no integer).
    const bad = SettleRequest.fromPartial({ terminalId: 'T-0001', amount: { minor: 1.5, currency: 'EUR' } });
    expect(() => encodeProto(SettleRequest, bad)).toThrow();
    expect(
      Buffer.from(encodeProto(SettleRequest, good)).equals(Buffer.from(SettleRequest.encode(good).finish())),
    ).toBe(true);
    expect(SettleRequest.decode(encodeProto(SettleRequest, good))).toEqual(good);
  });
});
