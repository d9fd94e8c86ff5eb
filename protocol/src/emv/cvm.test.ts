import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CvmMethod } from '../gen/bluetill/v1/common';
import { toHex } from '../bytes';
import { EMPTY_CVR } from './card-cryptogram';
import {
  BIOMETRIC_MATCH_THRESHOLD,
  biometricMatches,
  biometricSimilarity,
  CVM_NAMES,
  CvmDataError,
  cvmMethodOf,
  cvmNameOf,
  cvrResultOf,
  cvrShowsFailure,
  demoFingerprint,
  encodeBiometricVerifyData,
  encodeKnowledgeSecret,
  parseBiometricVerifyData,
  templateBytes,
  templateFromBytes,
} from './cvm';
import { createDemoIssuer, prepareDemoCard } from './demo-issuer';
import { PersonalizationError } from './errors';
import { decodePersonalizationData, encodePersonalizationData } from './personalization';

const template = fc
  .array(fc.integer({ min: -128, max: 127 }), { minLength: 64, maxLength: 64 })
  .filter((a) => a.some((v) => v !== 0))
  .map((a) => Int8Array.from(a));

describe('CVM method names and the wire enum', () => {
  it('round trips every method; 0 is the online PIN; anything else is refused', () => {
    for (const n of CVM_NAMES) expect(cvmNameOf(cvmMethodOf(n))).toBe(n);
    expect(cvmNameOf(CvmMethod.CVM_METHOD_UNSPECIFIED)).toBe('online_pin');
    for (const bad of [-1, 4, 77, 2 ** 31 - 1]) expect(cvmNameOf(bad)).toBeUndefined();
  });
});

describe('biometric template (VERIFY P2 90 data)', () => {
  it("is byte-exact: 7F2E 42 81 40 ‖ 64 two's-complement bytes", () => {
    const t = Int8Array.from({ length: 64 }, (_, i) => (i % 2 ? -i : i));
    const data = encodeBiometricVerifyData(t);
    expect(toHex(data.subarray(0, 5))).toBe('7F2E428140');
    expect(data.length).toBe(5 + 64);
    expect(toHex(data.subarray(5, 8))).toBe('00FF02'); // 0, -1, 2
  });
  it('decode(encode(t)) = t for every template', () => {
    fc.assert(
      fc.property(template, (t) => {
        expect(Array.from(parseBiometricVerifyData(encodeBiometricVerifyData(t)))).toEqual(Array.from(t));
      }),
      { numRuns: 500 },
    );
  });
  it('random and mutated bytes raise only CvmDataError', () => {
    const base = encodeBiometricVerifyData(demoFingerprint('x'));
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      fc
        .tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }))
        .map(([at, v]) => Uint8Array.from(base, (b, i) => (i === at ? v : b))),
      fc.nat(base.length).map((n) => base.slice(0, n)),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        try {
          expect(parseBiometricVerifyData(bytes)).toHaveLength(64);
        } catch (e) {
          expect(e).toBeInstanceOf(CvmDataError);
        }
      }),
      { numRuns: 3_000 },
    );
  });
  it('refuses wrong lengths and the all-zero template', () => {
    expect(() => templateFromBytes(new Uint8Array(63).fill(1))).toThrow(CvmDataError);
    expect(() => templateFromBytes(new Uint8Array(64))).toThrow(CvmDataError);
    expect(Array.from(templateBytes(templateFromBytes(new Uint8Array(64).fill(0xff))))).toEqual(
      new Array(64).fill(0xff),
    );
  });
});

describe('matching', () => {
  it('a template matches itself, its negation does not, scaling does not matter (cosine)', () => {
    fc.assert(
      fc.property(template, (t) => {
        expect(biometricSimilarity(t, t)).toBeCloseTo(1, 9);
        expect(biometricMatches(t, t)).toBe(true);
        expect(
          biometricMatches(
            t,
            Int8Array.from(t, (v) => Math.max(-128, Math.min(127, -v))),
          ),
        ).toBe(false);
        expect(
          biometricSimilarity(
            t,
            Int8Array.from(t, (v) => Math.trunc(v / 2)),
          ),
        ).toBeGreaterThan(0.95);
      }),
      { numRuns: 300 },
    );
  });
  it('demo fingers are stable and distinct: one finger against another is far below the threshold', () => {
    expect(Array.from(demoFingerprint('alice'))).toEqual(Array.from(demoFingerprint('alice')));
    expect(biometricSimilarity(demoFingerprint('alice'), demoFingerprint('bob'))).toBeLessThan(
      BIOMETRIC_MATCH_THRESHOLD / 2,
    );
    expect(biometricSimilarity(new Int8Array(64), demoFingerprint('a'))).toBe(0);
  });
});

describe('knowledge secret', () => {
  it('is the UTF-8 of the NFC form: a decomposed é equals the composed one', () => {
    expect(toHex(encodeKnowledgeSecret('café au lait'))).toBe(
      toHex(encodeKnowledgeSecret('cafe\u0301 au lait')),
    );
    expect(encodeKnowledgeSecret('1234')).toHaveLength(4);
  });
  it.each(['', 'abc', 'x'.repeat(65), 'é'.repeat(33)])('refuses %j (4-64 bytes)', (s) => {
    expect(() => encodeKnowledgeSecret(s)).toThrow(CvmDataError);
  });
});

describe('CVR results per method', () => {
  it('reads each method from its own bits; any failure shows', () => {
    expect(cvrResultOf('biometric', { ...EMPTY_CVR, biometricPerformed: true })).toEqual({
      performed: true,
      failed: false,
      locked: false,
    });
    expect(
      cvrResultOf('knowledge', {
        ...EMPTY_CVR,
        knowledgePerformed: true,
        knowledgeFailed: true,
        knowledgeTryLimitExceeded: true,
      }),
    ).toEqual({ performed: true, failed: true, locked: true });
    expect(cvrResultOf('offline_pin', { ...EMPTY_CVR, biometricPerformed: true })).toEqual({
      performed: false,
      failed: false,
      locked: false,
    });
    expect(cvrShowsFailure(EMPTY_CVR)).toBe(false);
    expect(cvrShowsFailure({ ...EMPTY_CVR, knowledgeFailed: true })).toBe(true);
  });
});

describe('personalization with cardholder-verification data (DF08-DF0B)', () => {
  const issuer = createDemoIssuer();
  const card = { pan: '9990010000000017', expiry: '3012', cardholderName: 'TEST/CARDHOLDER', pin: '1234' };
  it('round trips the fingerprint template, the knowledge secret and their try limits', () => {
    const { personalization } = prepareDemoCard(issuer, {
      ...card,
      biometricTemplate: demoFingerprint('t'),
      biometricTryLimit: 4,
      knowledgeSecret: encodeKnowledgeSecret('blue door'),
      knowledgeTryLimit: 2,
    });
    const back = decodePersonalizationData(encodePersonalizationData(personalization));
    expect(Array.from(back.biometricTemplate!)).toEqual(Array.from(demoFingerprint('t')));
    expect(Buffer.from(back.knowledgeSecret!).toString('utf8')).toBe('blue door');
    expect([back.biometricTryLimit, back.knowledgeTryLimit]).toEqual([4, 2]);
  });
  it('a card without them decodes without them', () => {
    const back = decodePersonalizationData(
      encodePersonalizationData(prepareDemoCard(issuer, card).personalization),
    );
    expect(back.biometricTemplate).toBeUndefined();
    expect(back.knowledgeSecret).toBeUndefined();
  });
  it('refuses a bad template, a secret not in NFC form, and try limits out of 1-15', () => {
    const { personalization: p } = prepareDemoCard(issuer, card);
    expect(() => encodePersonalizationData({ ...p, biometricTemplate: new Int8Array(64) })).toThrow(
      PersonalizationError,
    );
    expect(() =>
      encodePersonalizationData({ ...p, knowledgeSecret: new Uint8Array(Buffer.from('cafe\u0301', 'utf8')) }),
    ).toThrow(PersonalizationError);
    expect(() =>
      encodePersonalizationData({ ...p, knowledgeSecret: Uint8Array.of(0xff, 0xfe, 0x41, 0x42) }),
    ).toThrow(PersonalizationError);
    expect(() => encodePersonalizationData({ ...p, biometricTryLimit: 0 })).toThrow(PersonalizationError);
    expect(() => encodePersonalizationData({ ...p, knowledgeTryLimit: 16 })).toThrow(PersonalizationError);
  });
});
