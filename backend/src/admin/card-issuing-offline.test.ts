import { describe, expect, it } from 'vitest';
import { DEFAULT_OFFLINE_LIMITS, offlineLimitsFrom, OfflineLimitsError } from './card-issuing';

describe('card issue: offline limits from the options', () => {
  it("defaults: 5 in a row, 10 at most, 100.00 of the card's currency", () => {
    expect(DEFAULT_OFFLINE_LIMITS).toEqual({ lower: 5, upper: 10, amount: '100' });
    expect(offlineLimitsFrom({}, 'EUR')).toEqual({
      lowerConsecutive: 5,
      upperConsecutive: 10,
      amountMinor: 10_000,
      currency: 978,
    });
    expect(offlineLimitsFrom({}, 'JPY')).toEqual({
      lowerConsecutive: 5,
      upperConsecutive: 10,
      amountMinor: 100,
      currency: 392,
    });
  });

  it('given values; amounts as 250 or 250.50; one limit moves the other default out of its way', () => {
    expect(offlineLimitsFrom({ lower: 2, upper: 3, amount: '250.50' }, 'EUR')).toEqual({
      lowerConsecutive: 2,
      upperConsecutive: 3,
      amountMinor: 25_050,
      currency: 978,
    });
    expect(offlineLimitsFrom({ lower: 20 }, 'USD')).toMatchObject({
      lowerConsecutive: 20,
      upperConsecutive: 20,
      currency: 840,
    });
    expect(offlineLimitsFrom({ upper: 2 }, 'EUR')).toMatchObject({
      lowerConsecutive: 2,
      upperConsecutive: 2,
    });
    expect(offlineLimitsFrom({ lower: 0, upper: 0, amount: '0' }, 'EUR')).toMatchObject({
      lowerConsecutive: 0,
      upperConsecutive: 0,
      amountMinor: 0,
    });
  });

  it.each([
    [{ lower: 4, upper: 3 }, 'EUR', /--offline-upper/],
    [{ lower: 256 }, 'EUR', /--offline-lower/],
    [{ lower: -1 }, 'EUR', /--offline-lower/],
    [{ amount: '12.5' }, 'EUR', /--offline-amount .* 100\.00/],
    [{ amount: '-3' }, 'EUR', /--offline-amount/],
    [{ amount: '1e3' }, 'EUR', /--offline-amount/],
    [{ amount: '10.00' }, 'JPY', /--offline-amount .* 10000/],
    [{ amount: '999999999999.99' }, 'EUR', /too large/],
    [{}, 'XXX', /not supported/],
  ])('refuses %o in %s with a clear error', (o, currency, message) => {
    expect(() => offlineLimitsFrom(o, currency)).toThrow(OfflineLimitsError);
    expect(() => offlineLimitsFrom(o, currency)).toThrow(message);
  });
});
