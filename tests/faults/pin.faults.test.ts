/**
 * PIN blocks and sealed PINs under garbage: clear format 0/1/3 blocks, format-4 enciphered
 * blocks, and sealed PIN blocks (random protobuf, mutated real seals, wrong context) raise only
 * PinBlockError / PinSealError. Also the compact certificates the phone checks in the handshake:
 * only CertificateError.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  CertificateError,
  PinBlockError,
  PinSealError,
  decipherPinBlock4,
  decodePinBlock,
  generateP256,
  issueCertificate,
  openSealedPin,
  pinSealContext,
  sealPin,
  verifyCertificate,
} from '@bluetill/protocol';
import { Tally, bytes, cases, mutation, params, timeout } from './support';

const pinTally = new Tally('pin');
const certTally = new Tally('certificate');
afterAll(() => {
  pinTally.print();
  certTally.print();
});

const PAN = '9990010000000017';
const pinKey = generateP256();
const context = pinSealContext(Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4), 'T-0001');
const realSeals = ['1234', '000000000000', '98765'].map((pin) =>
  sealPin({ pin, pan: PAN, pinKey: pinKey.publicRaw, pinKeyId: 'pin-key-1', context }),
);

describe('PIN blocks', () => {
  it(
    'decodePinBlock (formats 0, 1, 3) and decipherPinBlock4 on random blocks, PANs and keys: a PIN or PinBlockError',
    () => {
      const pan = fc.oneof(
        fc.constant(PAN),
        fc.stringMatching(/^[0-9]{0,22}$/),
        fc.string({ maxLength: 20 }),
      );
      const property = fc.property(
        fc.constantFrom(0, 1, 3) as fc.Arbitrary<0 | 1 | 3>,
        fc.oneof(fc.uint8Array({ minLength: 8, maxLength: 8 }), bytes(40)),
        fc.oneof(fc.uint8Array({ minLength: 16, maxLength: 16 }), bytes(40)),
        fc.oneof(
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          bytes(40),
        ),
        fc.option(pan, { nil: undefined }),
        (format, block8, block16, key, p) => {
          pinTally.cases++;
          for (const f of [
            () => decodePinBlock(format, block8, p),
            () => decipherPinBlock4(key, block16, p ?? PAN),
          ]) {
            try {
              const pin = f();
              expect(pin).toMatch(/^[0-9]{4,12}$/);
            } catch (error) {
              if (!pinTally.typed(error, [PinBlockError])) throw error;
            }
          }
        },
      );
      fc.assert(property, params(cases(5_000)));
    },
    timeout(),
  );
});

describe('sealed PIN blocks', () => {
  it(
    'openSealedPin on random and mutated seals, wrong PAN or context: the PIN or PinSealError',
    () => {
      const sealed = fc.oneof(
        bytes(200),
        fc.constantFrom(...realSeals).chain((s) => mutation(s)),
      );
      const property = fc.property(
        sealed,
        fc.oneof(fc.constant(PAN), fc.constant('9990010000000025'), fc.stringMatching(/^[0-9]{0,22}$/)),
        fc.oneof(fc.constant(context), bytes(20)),
        (s, pan, ctx) => {
          pinTally.cases++;
          try {
            const pin = openSealedPin(s, { pinPrivateKey: pinKey.privateKey, pan, context: ctx });
            expect(pin).toMatch(/^[0-9]{4,12}$/);
          } catch (error) {
            if (!pinTally.typed(error, [PinSealError])) throw error;
          }
        },
      );
      fc.assert(property, params(cases(2_000)));
    },
    timeout(),
  );

  it('sanity: a real seal opens with the right PAN and context only', () => {
    expect(openSealedPin(realSeals[0]!, { pinPrivateKey: pinKey.privateKey, pan: PAN, context })).toBe(
      '1234',
    );
    expect(() =>
      openSealedPin(realSeals[0]!, {
        pinPrivateKey: pinKey.privateKey,
        pan: PAN,
        context: new Uint8Array(4),
      }),
    ).toThrow(PinSealError);
  });
});

describe('certificates', () => {
  const ca = generateP256();
  const subject = generateP256();
  const real = issueCertificate(
    {
      role: 'terminal',
      subjectId: 'T-0001',
      publicKey: subject.publicRaw,
      notAfterMs: Date.now() + 3600_000,
      merchantName: 'Shop',
    } as never,
    ca.privateKey,
  );

  it(
    'verifyCertificate on random and mutated certificates: a body or CertificateError',
    () => {
      const property = fc.property(
        fc.oneof(bytes(300), mutation(real)),
        fc.constantFrom('terminal', 'pin-key', 'receipt') as fc.Arbitrary<'terminal'>,
        (c, role) => {
          certTally.cases++;
          try {
            const body = verifyCertificate(c, ca.publicKey, { role, now: Date.now() });
            expect(body.role).toBe(role);
          } catch (error) {
            if (!certTally.typed(error, [CertificateError])) throw error;
          }
        },
      );
      fc.assert(property, params(cases(2_000)));
    },
    timeout(),
  );
});
