import { describe, expect, it } from 'vitest';
import { toHex } from '../bytes';
import { decodeCvr, EMPTY_CVR, encodeCvr } from './card-cryptogram';
import { createDemoIssuer, prepareDemoCard } from './demo-issuer';
import { PersonalizationError } from './errors';
import { decodePersonalizationData, encodePersonalizationData, type OfflineLimits } from './personalization';
import { decodeTlv, encodeTlv, findTag, type Tlv } from './tlv';

const CARD = {
  pan: '9990010000000017',
  psn: 1,
  expiry: '3012',
  cardholderName: 'TEST/CARDHOLDER',
  pin: '1234',
};
const LIMITS: OfflineLimits = {
  lowerConsecutive: 5,
  upperConsecutive: 10,
  amountMinor: 10_000,
  currency: 978,
};
const issuer = createDemoIssuer();

describe('offline limits in the personalization (9F14, 9F23, 9F42, DF0C)', () => {
  it('round-trip: 9F14 05, 9F23 0A, 9F42 0978, DF0C 000000010000', () => {
    const { personalization } = prepareDemoCard(issuer, { ...CARD, offlineLimits: LIMITS });
    const bytes = encodePersonalizationData(personalization);
    const nodes = decodeTlv(bytes);
    expect(toHex(findTag(nodes, '9F14')!)).toBe('05');
    expect(toHex(findTag(nodes, '9F23')!)).toBe('0A');
    expect(toHex(findTag(nodes, '9F42')!)).toBe('0978');
    expect(toHex(findTag(nodes, 'DF0C')!)).toBe('000000010000');
    expect(decodePersonalizationData(bytes).offlineLimits).toEqual(LIMITS);
  });

  it('a card without them decodes without them (online-only)', () => {
    const { personalization } = prepareDemoCard(issuer, CARD);
    expect(
      decodePersonalizationData(encodePersonalizationData(personalization)).offlineLimits,
    ).toBeUndefined();
  });

  it.each([
    [{ ...LIMITS, lowerConsecutive: -1 }, 'lower'],
    [{ ...LIMITS, lowerConsecutive: 1.5 }, 'lower'],
    [{ ...LIMITS, upperConsecutive: 256 }, 'upper'],
    [{ ...LIMITS, lowerConsecutive: 6, upperConsecutive: 5 }, 'not below the lower'],
    [{ ...LIMITS, amountMinor: -1 }, 'amount'],
    [{ ...LIMITS, amountMinor: 1e12 }, 'amount'],
    [{ ...LIMITS, currency: 0 }, 'currency'],
  ])('refuses %o with a clear error', (offlineLimits, words) => {
    const { personalization } = prepareDemoCard(issuer, CARD);
    expect(() => encodePersonalizationData({ ...personalization, offlineLimits })).toThrow(
      PersonalizationError,
    );
    expect(() => encodePersonalizationData({ ...personalization, offlineLimits })).toThrow(words);
  });

  it('a chain with some of the four, or a non-BCD amount, is refused at decoding', () => {
    const { personalization } = prepareDemoCard(issuer, { ...CARD, offlineLimits: LIMITS });
    const nodes = decodeTlv(encodePersonalizationData(personalization));
    const without = (tag: string): Tlv[] => nodes.filter((n) => n.tag !== tag);
    expect(() => decodePersonalizationData(encodeTlv(without('DF0C')))).toThrow(/all of/);
    const bad = nodes.map((n) =>
      n.tag === 'DF0C' ? { tag: 'DF0C', value: Uint8Array.of(0, 0, 0, 0, 0xa0, 0) } : n,
    );
    expect(() => decodePersonalizationData(encodeTlv(bad))).toThrow(/BCD/);
  });
});

describe('CVR byte 3: offline limit bits beside the PIN try counter', () => {
  it('80 lower, 40 upper, 20 amount; the try counter in the low nibble is kept', () => {
    const cvr = {
      ...EMPTY_CVR,
      pinTriesLeft: 3,
      lowerConsecutiveOfflineLimitExceeded: true,
      upperConsecutiveOfflineLimitExceeded: true,
      offlineAmountLimitExceeded: true,
    };
    const bytes = encodeCvr(cvr);
    expect(toHex(bytes)).toBe('8000E300');
    expect(decodeCvr(bytes)).toMatchObject({
      pinTriesLeft: 3,
      lowerConsecutiveOfflineLimitExceeded: true,
      upperConsecutiveOfflineLimitExceeded: true,
      offlineAmountLimitExceeded: true,
    });
    expect(decodeCvr(encodeCvr({ ...EMPTY_CVR, offlineAmountLimitExceeded: true }))).toMatchObject({
      lowerConsecutiveOfflineLimitExceeded: false,
      offlineAmountLimitExceeded: true,
      pinTriesLeft: 0,
    });
  });
});
