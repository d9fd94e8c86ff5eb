/** Money as integer minor units (cents) with an ISO 4217 code; never floating point. */
import type { Item, Money } from './gen/bluetill/v1/common';

const MINOR_DIGITS: Record<string, number> = { EUR: 2, USD: 2, GBP: 2, JPY: 0, CHF: 2, SEK: 2 };
export const SUPPORTED_CURRENCIES = Object.keys(MINOR_DIGITS);

export const money = (minor: number, currency: string): Money => ({ minor, currency });

export function basketTotal(items: readonly Item[], currency: string): Money {
  let minor = 0;
  for (const item of items) minor += item.unitPriceMinor * item.quantity;
  if (!Number.isSafeInteger(minor)) throw new RangeError('basket total overflows');
  return { minor, currency };
}

/** "€12.34"-style text for receipts and screens. */
export function formatMoney(m: Money, locale = 'en-GB'): string {
  const digits = MINOR_DIGITS[m.currency] ?? 2;
  return new Intl.NumberFormat(locale, { style: 'currency', currency: m.currency, minimumFractionDigits: digits }).format(
    m.minor / 10 ** digits,
  );
}

/** ISO 4217 numeric codes, as the card's 5F2A / 9F1A data elements carry them. */
export const CURRENCY_NUMERIC: Record<string, number> = { EUR: 978, USD: 840, GBP: 826, JPY: 392, CHF: 756, SEK: 752 };

export const sameItems = (a: readonly Item[], b: readonly Item[]): boolean =>
  a.length === b.length &&
  a.every((x, i) => {
    const y = b[i]!;
    return x.sku === y.sku && x.name === y.name && x.quantity === y.quantity && x.unitPriceMinor === y.unitPriceMinor;
  });
