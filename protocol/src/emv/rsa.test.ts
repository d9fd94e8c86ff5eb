/**
 * rsaRecover: the BigInt path for exponent 3 gives OpenSSL's answer byte for byte, and
 * refuses what OpenSSL refuses; other exponents still go through OpenSSL.
 */
import { constants, generateKeyPairSync, publicDecrypt } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OdaError } from './errors';
import { rsaPublicKeyOf, rsaRecover } from './rsa';

const e3 = [512, 1024, 1408].map(
  (bits) => generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 3 }).publicKey,
);
const e65537 = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 65537 }).publicKey;
const openssl = (key: (typeof e3)[number], data: Uint8Array) =>
  new Uint8Array(publicDecrypt({ key, padding: constants.RSA_NO_PADDING }, data));

describe('rsaRecover', () => {
  it('equals OpenSSL for random data below the modulus (exponent 3, three key sizes, and 65537)', () => {
    for (const key of [...e3, e65537]) {
      const raw = rsaPublicKeyOf(key);
      const n = raw.modulus.length;
      fc.assert(
        fc.property(fc.uint8Array({ minLength: n, maxLength: n }), (data) => {
          data[0] = data[0]! % raw.modulus[0]!; // below the modulus
          expect(rsaRecover(raw, data)).toEqual(openssl(key, data));
        }),
        { numRuns: 50 },
      );
      // Leading zero bytes in the result are kept (the output is always the modulus' length).
      const small = new Uint8Array(n);
      small[n - 1] = 2;
      expect(rsaRecover(raw, small)).toEqual(openssl(key, small));
      expect(rsaRecover(raw, small)).toHaveLength(n);
    }
  });

  it('refuses data not below the modulus, or of another length, with OdaError', () => {
    for (const key of [...e3, e65537]) {
      const raw = rsaPublicKeyOf(key);
      expect(() => openssl(key, raw.modulus)).toThrow(); // what OpenSSL does
      expect(() => rsaRecover(raw, raw.modulus)).toThrow(OdaError);
      expect(() => rsaRecover(raw, new Uint8Array(raw.modulus.length).fill(0xff))).toThrow(OdaError);
      expect(() => rsaRecover(raw, new Uint8Array(raw.modulus.length - 1))).toThrow(
        expect.objectContaining({ code: 'bad_length' }),
      );
    }
  });
});
