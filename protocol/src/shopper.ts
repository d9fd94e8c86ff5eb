/**
 * What the phone and the backend's shopper-facing listener (service Shopper) share besides the
 * schema: the PIN seal contexts of the two flows (so a sealed PIN made for one cannot be used for
 * the other or at a till), the temporary password's format, and the merchant card's tag.
 */
import { pinSealContext } from './pin/pin-seal';

/** PIN seal context of IssueCode: the UN and this purpose (a till's context names its terminal id). */
export const codePinContext = (unpredictableNumber: Uint8Array): Uint8Array =>
  pinSealContext(unpredictableNumber, 'shopper:code');

/** PIN seal context of PayMerchant. */
export const merchantCardPinContext = (unpredictableNumber: Uint8Array): Uint8Array =>
  pinSealContext(unpredictableNumber, 'shopper:merchant-card');

/** A temporary password: 8 digits, typed by a cashier. */
export const TEMPORARY_CODE_DIGITS = 8;
export const isTemporaryCode = (s: string): boolean => /^[0-9]{8}$/.test(s);

/**
 * The EMV tag a merchant card carries its merchant establishment id in (9F16, Merchant
 * Identifier, 15 bytes an). It sits in the record covered by offline data authentication, so
 * the ICC certificate signs it: a phone cannot change which merchant is paid.
 */
export const MERCHANT_ID_TAG = '9F16';
