/**
 * Claims 1, 5, 6: the phone asks the backend directly for a temporary password. The card proves
 * itself over the backend's UN (DDA), the PIN is sealed to the authorization server's PIN key
 * (checked against the card company root first), and the backend answers with a one-time 8-digit
 * code bound to the card, an amount limit and a short lifetime, for the cashier to key in.
 *
 * ```mermaid
 * sequenceDiagram
 *   participant Card
 *   participant Phone
 *   participant Backend as Backend (Shopper listener, TLS)
 *   Phone->>Backend: Challenge
 *   Backend-->>Phone: UN, PIN-key certificate
 *   Note over Phone: PIN-key certificate checked against the card company root
 *   Phone->>Card: read records, INTERNAL AUTHENTICATE (UN)
 *   Note over Phone: PIN typed, ISO 9564-4 block sealed to the PIN key
 *   Phone->>Card: GENERATE AC (amount 0, UN): account-verification ARQC
 *   Phone->>Backend: IssueCode (card, ARQC, sealed PIN, amount limit)
 *   Backend-->>Phone: code, limit, expiry (or a decline); the issuer's answer to the ARQC
 *   Phone->>Card: EXTERNAL AUTHENTICATE (PIN tries left in the one budget)
 * ```
 */
import type { KeyObject } from 'node:crypto';
import {
  codePinContext,
  declineText,
  isDeclineCode,
  sealPin,
  verifyCertificate,
  type CertificateBody,
  type DeclineCode,
  type Money,
  type ShopperChallengeResponse,
} from '@bluetill/protocol';
import type { PaymentCard } from '../ports/payment-card';
import type { Prompt } from '../ports/prompt';
import type { ShopperBackend } from '../ports/shopper-backend';
import { giveCardIssuerAnswer } from './issuer-answer';
import { PhoneError } from './phone-error';
import { readCardOver } from './read-card-over';

export type CodeOutcome =
  | {
      readonly kind: 'issued';
      readonly code: string;
      readonly limit: Money;
      readonly expiresAtMs: number;
      readonly maskedPan: string;
    }
  | {
      readonly kind: 'declined';
      readonly reason: DeclineCode;
      readonly text: string;
      readonly pinTriesLeft?: number;
    };

export interface CodeOptions {
  readonly backend: ShopperBackend;
  readonly card: PaymentCard;
  readonly prompt: Pick<Prompt, 'progress' | 'pin'>;
  readonly trust: { readonly cardCompanyRoot: KeyObject };
  readonly limit: Money;
  readonly now?: () => number;
}

/** The PIN key the backend named, once its certificate verifies under the card company root. */
export function checkedPinKey(ch: ShopperChallengeResponse, root: KeyObject, now: number): CertificateBody {
  try {
    return verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now });
  } catch (e) {
    throw new PhoneError(
      'backend_untrusted',
      'the PIN key is not certified by the card company; the PIN was not sent',
      { cause: e },
    );
  }
}

export function declinedWith(
  reason: string,
  pinTriesLeft?: number,
): { kind: 'declined'; reason: DeclineCode; text: string; pinTriesLeft?: number } {
  const code: DeclineCode = isDeclineCode(reason) ? reason : 'cancelled';
  return {
    kind: 'declined',
    reason: code,
    text: declineText(code),
    ...(pinTriesLeft !== undefined ? { pinTriesLeft } : {}),
  };
}

/** Throws PhoneError (card, backend_untrusted) or the backend port's errors; a decline is a value. */
export async function requestCode(o: CodeOptions): Promise<CodeOutcome> {
  const now = o.now ?? Date.now;
  o.prompt.progress('Asking the payment network for a challenge');
  const ch = await o.backend.challenge();
  const pinKey = checkedPinKey(ch, o.trust.cardCompanyRoot, now());
  const un = ch.unpredictableNumber;
  o.prompt.progress('Reading card');
  // The card's account-verification ARQC goes with it: the issuer judges no PIN without it.
  const card = await readCardOver(o.card, un, 'card', { authorizationCryptogram: true });
  const pin = await o.prompt.pin();
  const sealedPinBlock = sealPin({
    pin,
    pan: card.pan,
    pinKey: pinKey.publicKey,
    pinKeyId: pinKey.subjectId,
    context: codePinContext(un),
  });
  o.prompt.progress('Checking card and PIN');
  const res = await o.backend.issueCode({
    unpredictableNumber: un,
    card,
    sealedPinBlock,
    amountLimit: o.limit,
  });
  await giveCardIssuerAnswer(o.card, res.issuerAuthenticationData);
  if (!res.approved) return declinedWith(res.declineReason, res.pinTriesLeft);
  return {
    kind: 'issued',
    code: res.code,
    limit: res.amountLimit ?? o.limit,
    expiresAtMs: res.expiresAtMs,
    maskedPan: res.maskedPan,
  };
}
