/**
 * Pure rules of the merchant IC card (claims 2, 7, 8). The merchant card proves itself like a
 * payment card (issuer and ICC certificates under the CA, DDA over the UN: authenticateCard); its
 * merchant establishment id (9F16) sits in the ODA record, so the ICC certificate signs it. Here:
 * which merchant it names, and whether that card may take payments now.
 */
import { MERCHANT_ID_TAG, decodeTlv, flattenTlv, type DeclineCode } from '@bluetill/protocol';
import type { MerchantRow } from '../ports/backend-store';
import type { MerchantCardRow } from '../ports/shopper-store';
import { isExpired } from './rules';

/** The merchant id in a card's records (9F16), or null when there is none or the records do not parse. */
export function merchantIdOf(records: Uint8Array): string | null {
  try {
    const v = flattenTlv(decodeTlv(records)).get(MERCHANT_ID_TAG);
    return v ? Buffer.from(v).toString('latin1') : null;
  } catch {
    return null;
  }
}

export interface MerchantCardFacts {
  readonly row: MerchantCardRow | undefined;
  /** What the card's (authenticated) records say. */
  readonly recordsMerchantId: string | null;
  readonly expiry: string;
  readonly panSequence: number;
  readonly merchant: MerchantRow | undefined;
  readonly now: number;
}

/** Registered, the same card the registry issued (merchant, expiry, PSN), active, of an active merchant. */
export function checkMerchantCard(f: MerchantCardFacts): DeclineCode | null {
  if (!f.row) return 'merchant_card_unknown';
  if (
    f.recordsMerchantId !== f.row.merchantId ||
    f.expiry !== f.row.expiry ||
    f.panSequence !== f.row.panSequence
  )
    return 'merchant_card_invalid';
  if (f.row.status !== 'active' || isExpired(f.row.expiry, f.now)) return 'merchant_card_blocked';
  if (!f.merchant || f.merchant.id !== f.row.merchantId || f.merchant.status !== 'active')
    return 'merchant_inactive';
  return null;
}
