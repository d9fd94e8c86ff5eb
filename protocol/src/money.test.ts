import { describe, expect, it } from 'vitest';
import { CURRENCY_NUMERIC, formatMoney, ISO_4217, iso4217, SUPPORTED_CURRENCIES } from './money';

describe('the ISO 4217 table', () => {
  it('holds each alphabetic and numeric code once', () => {
    expect(new Set(ISO_4217.map((c) => c.alpha)).size).toBe(ISO_4217.length);
    expect(new Set(ISO_4217.map((c) => c.numeric)).size).toBe(ISO_4217.length);
    for (const c of ISO_4217) {
      expect(c.alpha).toMatch(/^[A-Z]{3}$/);
      expect(c.numeric).toBeGreaterThan(0);
      expect(c.numeric).toBeLessThan(1000);
    }
  });

  it('gives the numeric code and the minor digits', () => {
    expect(iso4217('EUR')).toEqual({ alpha: 'EUR', numeric: 978, minorDigits: 2 });
    expect(iso4217('JPY')).toEqual({ alpha: 'JPY', numeric: 392, minorDigits: 0 });
    expect(iso4217('AUD')?.numeric).toBe(36);
    expect(iso4217('XXX')).toBeUndefined();
  });

  it('the settled currencies are six of the table, with their numeric codes', () => {
    expect(SUPPORTED_CURRENCIES).toEqual(['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'SEK']);
    expect(CURRENCY_NUMERIC).toEqual({ EUR: 978, USD: 840, GBP: 826, JPY: 392, CHF: 756, SEK: 752 });
    for (const a of SUPPORTED_CURRENCIES) expect(iso4217(a)).toBeDefined();
  });

  it('formats with the minor digits of the currency', () => {
    expect(formatMoney({ minor: 607, currency: 'EUR' })).toBe('€6.07');
    expect(formatMoney({ minor: 607, currency: 'JPY' })).toBe('JP¥607');
  });
});
