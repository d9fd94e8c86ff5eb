/**
 * Claims 2, 7, 8: the phone pays a merchant with no till in the loop. It reads the merchant's IC
 * card and the shopper's card over one UN from the backend, shows the sale for confirmation before
 * the shopper's card makes its cryptogram, and sends everything to the backend, which checks both
 * cards and settles exactly once per idempotency key, crediting the merchant the card names.
 *
 * ```mermaid
 * sequenceDiagram
 *   participant M as Merchant card
 *   participant C as Shopper's card
 *   participant P as Phone
 *   participant B as Backend (Shopper listener, TLS)
 *   P->>B: Challenge
 *   B-->>P: UN, PIN-key certificate
 *   P->>M: read records (merchant id 9F16), INTERNAL AUTHENTICATE (UN)
 *   P->>C: read records, INTERNAL AUTHENTICATE (UN)
 *   Note over P: PIN typed and sealed; items and sum shown and confirmed
 *   P->>C: GENERATE AC (amount, UN) → ARQC
 *   P->>B: PayMerchant (both cards, sealed PIN, items, sum, ARQC, idempotency key)
 *   B-->>P: result + signed receipt (a retry with the key returns the same)
 *   Note over P: receipt verified against the card company root
 * ```
 */
import type { KeyObject } from 'node:crypto';
import {
  MERCHANT_ID_TAG,
  decodeTlv,
  flattenTlv,
  merchantCardPinContext,
  sealPin,
  verifyReceipt,
  type DeclineCode,
  type Item,
  type Money,
  type Receipt,
} from '@bluetill/protocol';
import type { PaymentCard } from '../ports/payment-card';
import type { Prompt } from '../ports/prompt';
import type { ShopperBackend } from '../ports/shopper-backend';
import { checkedPinKey, declinedWith } from './code-flow';
import { giveCardIssuerAnswer } from './issuer-answer';
import { PhoneError } from './phone-error';
import { readCardOver } from './read-card-over';

export type MerchantPaymentOutcome =
  | { readonly kind: 'approved'; readonly receipt: Receipt; readonly replayed: boolean }
  | {
      readonly kind: 'declined';
      readonly reason: DeclineCode;
      readonly text: string;
      readonly pinTriesLeft?: number;
      readonly receipt?: Receipt;
    }
  | { readonly kind: 'cancelled' };

export interface MerchantPaymentOptions {
  readonly backend: ShopperBackend;
  readonly merchantCard: PaymentCard;
  readonly card: PaymentCard;
  readonly prompt: Prompt;
  readonly trust: { readonly cardCompanyRoot: KeyObject };
  readonly items: readonly Item[];
  readonly total: Money;
  /** Chosen once per payment by the phone (random); the backend settles at most once per key. */
  readonly idempotencyKey: string;
  readonly now?: () => number;
}

/** The merchant id a merchant card's records carry (9F16). */
export function merchantIdOfRecords(records: Uint8Array): string | null {
  try {
    const v = flattenTlv(decodeTlv(records)).get(MERCHANT_ID_TAG);
    return v ? Buffer.from(v).toString('latin1') : null;
  } catch {
    return null;
  }
}

export async function payMerchantCard(o: MerchantPaymentOptions): Promise<MerchantPaymentOutcome> {
  const now = o.now ?? Date.now;
  o.prompt.progress('Asking the payment network for a challenge');
  const ch = await o.backend.challenge();
  const pinKey = checkedPinKey(ch, o.trust.cardCompanyRoot, now());
  const un = ch.unpredictableNumber;

  o.prompt.progress("Reading the merchant's card");
  const merchantCard = await readCardOver(o.merchantCard, un, "the merchant's card");
  const merchantId = merchantIdOfRecords(merchantCard.records);
  if (!merchantId)
    throw new PhoneError('card', "the merchant's card carries no merchant id: it is not a merchant card");
  o.prompt.progress(`The merchant's card names merchant ${merchantId} (the payment network checks it)`);

  o.prompt.progress('Reading your card');
  // The card's account-verification ARQC goes with it: the issuer judges no PIN without it.
  const card = await readCardOver(o.card, un, 'your card', { authorizationCryptogram: true });
  const pin = await o.prompt.pin();
  const sealedPinBlock = sealPin({
    pin,
    pan: card.pan,
    pinKey: pinKey.publicKey,
    pinKeyId: pinKey.subjectId,
    context: merchantCardPinContext(un),
  });
  if (!(await o.prompt.confirm({ merchantName: `merchant ${merchantId}`, items: o.items, total: o.total })))
    return { kind: 'cancelled' };

  o.prompt.progress('Paying');
  let cryptogram;
  try {
    cryptogram = await o.card.generateAc({ amount: o.total, unpredictableNumber: un });
  } catch (e) {
    throw new PhoneError('card', `your card could not make its cryptogram: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const res = await o.backend.payMerchant({
    idempotencyKey: o.idempotencyKey,
    unpredictableNumber: un,
    merchantCard,
    card,
    sealedPinBlock,
    amount: o.total,
    items: [...o.items],
    cryptogram,
  });
  await giveCardIssuerAnswer(o.card, res.issuerAuthenticationData);
  let receipt: Receipt | undefined;
  if (res.receipt) {
    try {
      receipt = verifyReceipt(res.receipt, o.trust.cardCompanyRoot, now());
    } catch (e) {
      throw new PhoneError('receipt_invalid', 'the receipt is not signed by the payment network', {
        cause: e,
      });
    }
  }
  if (res.approved && receipt) return { kind: 'approved', receipt, replayed: res.replayed };
  const d = declinedWith(res.declineReason, res.pinTriesLeft || undefined);
  return { ...d, ...(receipt ? { receipt } : {}) };
}
