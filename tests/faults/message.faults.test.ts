/**
 * BleMessage decoding and MessageStream.receive under garbage: random protobuf bytes, mutated
 * real messages, framed so they reach the decoder, before and after the secure channel is up.
 * Only ProtocolError subclasses (FrameError, MessageError, StreamError, ChannelError) may escape.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ChannelError,
  FrameError,
  MessageError,
  MessageStream,
  ProtocolError,
  SecureChannel,
  StreamError,
  decodeMessage,
  encodeMessage,
  fragment,
  type BleBody,
} from '@bluetill/protocol';
import { Tally, bytes, cases, mutation, params, timeout } from './support';

const tally = new Tally('ble_message');
afterAll(() => tally.print());

const TYPED = [MessageError, FrameError, StreamError, ChannelError];

/** One real message of each kind, as a phone or till would send it. */
const SAMPLES: BleBody[] = [
  {
    $case: 'hello',
    value: {
      protocolVersion: 1,
      ephemeralPublicKey: new Uint8Array(randomBytes(65)),
      nonce: new Uint8Array(randomBytes(16)),
    },
  },
  {
    $case: 'helloAck',
    value: {
      ephemeralPublicKey: new Uint8Array(65),
      nonce: new Uint8Array(16),
      terminalCertificate: new Uint8Array(randomBytes(150)),
      merchantName: 'Shop',
      unpredictableNumber: Uint8Array.of(1, 2, 3, 4),
      pinKeyCertificate: new Uint8Array(randomBytes(150)),
      amount: { minor: 1250, currency: 'EUR' },
      signature: new Uint8Array(72),
      terminalStatement: new Uint8Array(randomBytes(260)),
    },
  },
  {
    $case: 'cardAuth',
    value: {
      card: {
        pan: '9990010000000017',
        expiry: '3012',
        cardholderName: 'TEST',
        panSequence: 1,
        records: new Uint8Array(randomBytes(60)),
        signedDynamicData: new Uint8Array(96),
      },
      sealedPinBlock: new Uint8Array(randomBytes(120)),
    },
  },
  {
    $case: 'payment',
    value: {
      terminalTxnId: 'txn-1',
      card: undefined,
      total: { minor: 1250, currency: 'EUR' },
      items: [{ sku: 'a', name: 'Apple', quantity: 2, unitPriceMinor: 625 }],
      cryptogram: undefined,
    },
  },
  { $case: 'error', value: { code: 'cancelled', message: 'no' } },
  { $case: 'sealed', value: { seq: 3, ciphertext: new Uint8Array(randomBytes(40)) } },
  {
    $case: 'receiptRequest',
    value: { terminalTxnId: 'txn-1', resumeToken: new Uint8Array(randomBytes(32)) },
  },
  {
    $case: 'status',
    value: { code: 'waiting_for_basket', message: 'The till is waiting for the cashier.', waitMs: 30_000 },
  },
] as BleBody[];

const encoded = SAMPLES.map((b) => encodeMessage(b));

/** Protobuf-shaped garbage: random bytes, mutated real messages, random field/wire-type soup. */
const protobufish: fc.Arbitrary<Uint8Array> = fc.oneof(
  bytes(400),
  fc.constantFrom(...encoded).chain((m) => mutation(m)),
  fc
    .array(
      fc.tuple(
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7),
        fc.uint8Array({ maxLength: 30 }),
      ),
      { maxLength: 8 },
    )
    .map((fields) =>
      Uint8Array.from(fields.flatMap(([f, w, b]) => [(f << 3) | w, ...(w === 2 ? [b.length] : []), ...b])),
    ),
);

describe('decodeMessage on random protobuf bytes', () => {
  it(
    'returns a body or throws MessageError, nothing else',
    () => {
      const property = fc.property(protobufish, (b) => {
        tally.cases++;
        try {
          const body = decodeMessage(b);
          expect(body.$case).toBeTypeOf('string');
        } catch (error) {
          if (!tally.typed(error, [MessageError])) throw error;
        }
      });
      fc.assert(property, params(cases(5_000)));
    },
    timeout(),
  );
});

function channels(): { tillSide: SecureChannel; phoneSide: SecureChannel } {
  const p2t = new Uint8Array(randomBytes(32));
  const t2p = new Uint8Array(randomBytes(32));
  return {
    tillSide: new SecureChannel(t2p, p2t, 'till-to-phone', 'phone-to-till'),
    phoneSide: new SecureChannel(p2t, t2p, 'phone-to-till', 'till-to-phone'),
  };
}

describe('MessageStream.receive on random values', () => {
  it(
    'before and after the handshake: only typed ProtocolErrors; after the channel fails it stays failed',
    () => {
      // Each input: whether the channel is up, then items that are either raw ATT values or framed garbage (reaches the decoder),
      // or (when secured) a sealed record of garbage plaintext under the right key (reaches the inner decoder).
      const item = fc.oneof(
        bytes(250).map((v) => ({ kind: 'value' as const, v })),
        protobufish.map((v) => ({ kind: 'framed' as const, v })),
        protobufish.map((v) => ({ kind: 'sealed' as const, v })),
      );
      const property = fc.property(
        fc.boolean(),
        fc.array(item, { minLength: 1, maxLength: 12 }),
        (secured, items) => {
          tally.cases++;
          const stream = new MessageStream({
            send: async () => undefined,
            mtu: () => 185,
            maxMessageSize: 2048,
          });
          const { tillSide, phoneSide } = channels();
          if (secured) stream.secure(tillSide);
          let counter = 0;
          for (const it of items) {
            let values: Uint8Array[];
            if (it.kind === 'value') values = [it.v];
            else if (it.v.length === 0) continue;
            else if (it.kind === 'framed') values = fragment(it.v, 182, counter++, 4096);
            else
              values = fragment(
                encodeMessage({ $case: 'sealed', value: phoneSide.seal(it.v) }),
                182,
                counter++,
                4096,
              );
            for (const v of values) {
              try {
                const body = stream.receive(v, 0);
                if (body) expect(body.$case).not.toBe('sealed');
                if (body && !secured) expect(['hello', 'helloAck', 'error']).toContain(body.$case);
              } catch (error) {
                if (!tally.typed(error, TYPED)) throw error;
                expect(error).toBeInstanceOf(ProtocolError);
              }
            }
          }
          if (secured && tillSide.closed) {
            // a dead channel refuses everything, even a well-formed next record
            const next = fragment(
              encodeMessage({ $case: 'sealed', value: phoneSide.seal(encodeMessage(SAMPLES[4]!)) }),
              182,
              counter++,
              4096,
            );
            expect(() => next.forEach((v) => stream.receive(v, 0))).toThrow(ProtocolError);
          }
        },
      );
      fc.assert(property, params(cases(2_000)));
    },
    timeout(),
  );
});
