/** Money as integer minor units (cents) with an ISO 4217 code; never floating point. */
import type { Item, Money } from './gen/bluetill/v1/common';

/** One ISO 4217 currency: its alphabetic and numeric codes and the digits of its minor unit. */
export interface Iso4217Currency {
  readonly alpha: string;
  /** As the card's 5F2A / 9F1A data elements carry it (BCD), e.g. 978. */
  readonly numeric: number;
  readonly minorDigits: number;
}

/** The ISO 4217 currencies bluetill knows: the one table of codes for the phone, the till and the backend. */
export const ISO_4217: readonly Iso4217Currency[] = [
  { alpha: 'EUR', numeric: 978, minorDigits: 2 },
  { alpha: 'USD', numeric: 840, minorDigits: 2 },
  { alpha: 'GBP', numeric: 826, minorDigits: 2 },
  { alpha: 'JPY', numeric: 392, minorDigits: 0 },
  { alpha: 'CHF', numeric: 756, minorDigits: 2 },
  { alpha: 'SEK', numeric: 752, minorDigits: 2 },
  { alpha: 'DKK', numeric: 208, minorDigits: 2 },
  { alpha: 'NOK', numeric: 578, minorDigits: 2 },
  { alpha: 'PLN', numeric: 985, minorDigits: 2 },
  { alpha: 'CZK', numeric: 203, minorDigits: 2 },
  { alpha: 'HUF', numeric: 348, minorDigits: 2 },
  { alpha: 'CAD', numeric: 124, minorDigits: 2 },
  { alpha: 'AUD', numeric: 36, minorDigits: 2 },
];

const BY_ALPHA: ReadonlyMap<string, Iso4217Currency> = new Map(ISO_4217.map((c) => [c.alpha, c]));

/** The table's entry for an alphabetic code, or undefined for a currency it does not hold. */
export const iso4217 = (alpha: string): Iso4217Currency | undefined => BY_ALPHA.get(alpha);

/** The currencies the card company settles (a subset of ISO_4217; a card may carry any of the table's). */
export const SUPPORTED_CURRENCIES: string[] = ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'SEK'];

export const money = (minor: number, currency: string): Money => ({ minor, currency });

export function basketTotal(items: readonly Item[], currency: string): Money {
  let minor = 0;
  for (const item of items) minor += item.unitPriceMinor * item.quantity;
  if (!Number.isSafeInteger(minor)) throw new RangeError('basket total overflows');
  return { minor, currency };
}

/** "€12.34"-style text for receipts and screens. */
export function formatMoney(m: Money, locale = 'en-GB'): string {
  const digits = iso4217(m.currency)?.minorDigits ?? 2;
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: m.currency,
    minimumFractionDigits: digits,
  }).format(m.minor / 10 ** digits);
}

/** ISO 4217 numeric codes of the SUPPORTED_CURRENCIES, as the card's 5F2A / 9F1A data elements carry them. */
export const CURRENCY_NUMERIC: Record<string, number> = Object.fromEntries(
  SUPPORTED_CURRENCIES.map((a) => [a, iso4217(a)!.numeric]),
);

export const sameItems = (a: readonly Item[], b: readonly Item[]): boolean =>
  a.length === b.length &&
  a.every((x, i) => {
    const y = b[i]!;
    return (
      x.sku === y.sku &&
      x.name === y.name &&
      x.quantity === y.quantity &&
      x.unitPriceMinor === y.unitPriceMinor
    );
  });
