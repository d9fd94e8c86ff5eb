import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateP256, publicKeyFromRaw, rawFromPublicKey, KeyError } from './keys';

describe('publicKeyFromRaw', () => {
  it('round-trips a point, and the same point gives the same (immutable) KeyObject', () => {
    const { publicKey } = generateP256();
    const raw = rawFromPublicKey(publicKey);
    const a = publicKeyFromRaw(raw);
    expect(rawFromPublicKey(a)).toEqual(raw);
    expect(publicKeyFromRaw(new Uint8Array(raw))).toBe(a); // another array with the same bytes
    expect(a.equals(publicKey)).toBe(true);
  });

  it('a different point is a different key', () => {
    const a = rawFromPublicKey(generateP256().publicKey);
    const b = rawFromPublicKey(generateP256().publicKey);
    expect(publicKeyFromRaw(a).equals(publicKeyFromRaw(b))).toBe(false);
  });

  it('refuses random bytes that are not a point, every time (failures are never cached)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (tail) => {
        const raw = Uint8Array.of(0x04, ...tail);
        let first: unknown;
        try {
          publicKeyFromRaw(raw);
        } catch (e) {
          first = e;
        }
        fc.pre(first !== undefined); // a random 64 bytes is on the curve with negligible chance
        expect(first).toBeInstanceOf(KeyError);
        expect(() => publicKeyFromRaw(raw)).toThrow(KeyError);
      }),
      { numRuns: 200 },
    );
    expect(() => publicKeyFromRaw(new Uint8Array(33))).toThrow(KeyError);
  });
});
