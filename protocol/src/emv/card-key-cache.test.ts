import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { CardKeyCache } from './card-key-cache';
import { deriveCardAcMasterKey } from './card-cryptogram';

describe('CardKeyCache', () => {
  it('gives the key deriveCardAcMasterKey gives, for random cards, algorithms and repeated uses', () => {
    const cache = new CardKeyCache(8);
    const imks = { tdes: new Uint8Array(randomBytes(16)), aes: new Uint8Array(randomBytes(16)) };
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.stringMatching(/^[0-9]{12,19}$/),
            fc.nat(99),
            fc.constantFrom('tdes' as const, 'aes' as const),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        (uses) => {
          for (const [pan, psn, alg] of [...uses, ...uses])
            expect(cache.derive(imks[alg], pan, psn, alg)).toEqual(
              deriveCardAcMasterKey(imks[alg], pan, psn, alg),
            );
        },
      ),
      { numRuns: 100 },
    );
    expect(cache.size).toBeLessThanOrEqual(8);
    expect(cache.stats.hits).toBeGreaterThan(0);
  });

  it('derives again under another issuer master key, even for the same card', () => {
    const cache = new CardKeyCache();
    const a = new Uint8Array(16).fill(1);
    const b = new Uint8Array(16).fill(2);
    const fromA = cache.derive(a, '6799990100000000019', 1, 'aes');
    expect(cache.derive(a, '6799990100000000019', 1, 'aes')).toBe(fromA);
    const fromB = cache.derive(b, '6799990100000000019', 1, 'aes');
    expect(fromB).toEqual(deriveCardAcMasterKey(b, '6799990100000000019', 1, 'aes'));
    expect(fromB).not.toEqual(fromA);
    expect(cache.derive(Uint8Array.from(a), '6799990100000000019', 1, 'aes')).toEqual(fromA); // equal bytes, another key object: derived, not taken
    expect(cache.stats).toEqual({ hits: 1, misses: 3 });
  });

  it('refuses a bound that is not a positive integer, and throws what the derivation throws', () => {
    expect(() => new CardKeyCache(0)).toThrow(RangeError);
    expect(() => new CardKeyCache().derive(new Uint8Array(15), '6799990100000000019', 1, 'aes')).toThrow();
  });
});
