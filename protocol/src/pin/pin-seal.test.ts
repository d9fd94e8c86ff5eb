import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PinSealError, openSealedPin, pinSealContext, sealPin } from './pin-seal';
import { generateP256 } from '../pki/keys';

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
    expect(() => openSealedPin(sealed, { pinPrivateKey: pinKey.privateKey, pan, context: other })).toThrow(PinSealError);
    expect(() => openSealedPin(sealed, { pinPrivateKey: generateP256().privateKey, pan, context })).toThrow(PinSealError);
    expect(() => openSealedPin(sealed, { pinPrivateKey: pinKey.privateKey, pan: '4761739001010011', context })).toThrow(PinSealError);
  });

  it('random bytes raise only PinSealError (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(() => openSealedPin(bytes, { pinPrivateKey: pinKey.privateKey, pan, context })).toThrow(PinSealError);
      }),
      { numRuns: 500 },
    );
  });
});
