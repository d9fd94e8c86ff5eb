import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PinSealError, openSealedPin, pinSealContext, sealPin } from './pin-seal';
import { generateP256 } from '../pki/keys';
import { SealedPinBlock } from '../gen/bluetill/v1/ble';

describe('PIN seal', () => {
  const pinKey = generateP256();
  const pan = '4761739001010010';
  const context = pinSealContext(Uint8Array.of(1, 2, 3, 4), 'T-0001');

  it('opens with the PIN key and the same context', () => {
    const sealed = sealPin({ pin: '2468', pan, pinKey: pinKey.publicRaw, pinKeyId: 'pin-1', context });
    expect(openSealedPin(sealed, { pinPrivateKey: pinKey.privateKey, pan, context })).toBe('2468');
  });

  it('does not contain the PIN in any recognisable form and differs every time', () => {
    const a = sealPin({ pin: '2468', pan, pinKey: pinKey.publicRaw, pinKeyId: 'pin-1', context });
    const b = sealPin({ pin: '2468', pan, pinKey: pinKey.publicRaw, pinKeyId: 'pin-1', context });
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).toString('hex')).not.toContain('2468');
  });

  it('refuses another session context, another key or another PAN', () => {
    const sealed = sealPin({ pin: '2468', pan, pinKey: pinKey.publicRaw, pinKeyId: 'pin-1', context });
    const other = pinSealContext(Uint8Array.of(1, 2, 3, 5), 'T-0001');
    expect(() => openSealedPin(sealed, { pinPrivateKey: pinKey.privateKey, pan, context: other })).toThrow(
      PinSealError,
    );
    expect(() => openSealedPin(sealed, { pinPrivateKey: generateP256().privateKey, pan, context })).toThrow(
      PinSealError,
    );
    expect(() =>
      openSealedPin(sealed, { pinPrivateKey: pinKey.privateKey, pan: '4761739001010011', context }),
    ).toThrow(PinSealError);
  });

  it('refuses an ephemeral key that is not an uncompressed point on P-256 (invalid-curve attack)', () => {
    const sealed = SealedPinBlock.decode(
      sealPin({ pin: '2468', pan, pinKey: pinKey.publicRaw, pinKeyId: 'pin-1', context }),
    );
    const offCurve = Uint8Array.from(sealed.ephemeralPublicKey);
    offCurve[64]! ^= 1; // y changed: no longer on the curve
    const compressed = Uint8Array.of(
      0x02 | (sealed.ephemeralPublicKey[64]! & 1),
      ...sealed.ephemeralPublicKey.subarray(1, 33),
    ); // same point, compressed
    for (const ephemeralPublicKey of [
      offCurve,
      compressed,
      new Uint8Array(65),
      Uint8Array.of(0x04, ...new Uint8Array(64).fill(0xff)),
    ]) {
      const bad = SealedPinBlock.encode({ ...sealed, ephemeralPublicKey }).finish();
      expect(() => openSealedPin(bad, { pinPrivateKey: pinKey.privateKey, pan, context })).toThrow(
        PinSealError,
      );
    }
    expect(
      openSealedPin(SealedPinBlock.encode(sealed).finish(), {
        pinPrivateKey: pinKey.privateKey,
        pan,
        context,
      }),
    ).toBe('2468');
  });

  it('random bytes raise only PinSealError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(() => openSealedPin(bytes, { pinPrivateKey: pinKey.privateKey, pan, context })).toThrow(
          PinSealError,
        );
      }),
      { numRuns: 500 },
    );
  });
});
