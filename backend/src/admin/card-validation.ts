/**
 * What the issuer checks before a card is registered or personalized: every field, before anything
 * is written. A card refused here leaves no row, no file and no key behind.
 *
 * - PAN: 12-19 digits (ISO/IEC 7812-1), a correct Luhn check digit, and inside the issuer's range
 *   (it starts with the issuer identifier its EMV issuer certificate names: a card outside it
 *   could never pass offline data authentication).
 * - Expiry: YYMM, month 01-12, not before the current month.
 * - Cardholder name as embossed and in tag 5F20: 2-26 characters of A-Z, 0-9, space and . - ' /
 *   (EMV Book 3, Annex A: format ans 2-26; upper case as cards are embossed).
 * - PAN sequence number: 0-99 (tag 5F34, n 2).
 */

export type CardFieldCode =
  | 'pan_format'
  | 'pan_check_digit'
  | 'pan_range'
  | 'expiry_format'
  | 'expiry_past'
  | 'name_format'
  | 'psn_range';

export class CardFieldError extends Error {
  override readonly name = 'CardFieldError';
  constructor(
    readonly code: CardFieldCode,
    message: string,
  ) {
    super(message);
  }
}

/** Luhn check digit for the digits given (ISO/IEC 7812-1, Annex B). */
export function luhnCheckDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

export interface CardFields {
  readonly pan: string;
  readonly expiry: string;
  readonly name: string;
  readonly panSequence?: number;
}

/** Throws CardFieldError for the first field that is wrong; `issuerIdentifier` is the range's prefix. */
export function validateCardFields(c: CardFields, o: { issuerIdentifier: string; now: number }): void {
  if (!/^\d{12,19}$/.test(c.pan))
    throw new CardFieldError('pan_format', 'the card number must be 12 to 19 digits');
  if (luhnCheckDigit(c.pan.slice(0, -1)) !== c.pan.slice(-1))
    throw new CardFieldError('pan_check_digit', "the card number's check digit is wrong (Luhn)");
  if (!c.pan.startsWith(o.issuerIdentifier))
    throw new CardFieldError(
      'pan_range',
      `the card number is outside this issuer's range (it must start with ${o.issuerIdentifier})`,
    );
  const m = /^(\d\d)(\d\d)$/.exec(c.expiry);
  const month = m ? Number(m[2]) : 0;
  if (!m || month < 1 || month > 12)
    throw new CardFieldError(
      'expiry_format',
      'the expiry must be YYMM with a month from 01 to 12 (December 2029: 2912)',
    );
  const now = new Date(o.now);
  const current = (now.getUTCFullYear() % 100) * 100 + now.getUTCMonth() + 1;
  if (Number(m[1]) * 100 + month < current)
    throw new CardFieldError('expiry_past', `the expiry ${c.expiry} is in the past`);
  if (!/^[A-Z0-9 .'/-]{2,26}$/.test(c.name) || c.name.trim() !== c.name) {
    throw new CardFieldError(
      'name_format',
      "the name must be 2 to 26 characters of A-Z, 0-9, space and . - ' / (as embossed, upper case), without leading or trailing spaces",
    );
  }
  const psn = c.panSequence ?? 1;
  if (!Number.isInteger(psn) || psn < 0 || psn > 99)
    throw new CardFieldError('psn_range', 'the PAN sequence number must be 0 to 99');
}
