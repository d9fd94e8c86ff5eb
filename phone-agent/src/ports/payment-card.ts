import type { CardData, Cryptogram, Money, OfflineTc } from '@bluetill/protocol';
import type {
  CardVerification,
  CardVerificationResult,
  IssuerAuthenticationResult,
} from '../core/card/card-exchange';

/**
 * The shopper's payment card as the payment flow needs it. The EMV adapter implements it over a
 * CardReader (SELECT PPSE/AID, GPO, READ RECORD, INTERNAL AUTHENTICATE, GENERATE AC).
 *
 * @example
 *   void card.prepare?.().catch(() => undefined);        // at arrival: what needs no UN, beside the BLE setup
 *   const data = await card.read(un);                    // records + signature over the UN
 *   const v = await card.verifyCardholder?.({ method: 'offline_pin', pin }); // VERIFY on the card
 *   const ac = await card.generateAc({ amount, unpredictableNumber: un });
 */
export interface PaymentCard {
  /**
   * Starts reading what the card gives without the till's unpredictable number (application
   * selection, records), so that `read` is left only what needs it. Optional, and only a head
   * start: nothing leaves the phone, and `read` still reads everything itself when this failed or
   * was not called. Called again before `read`, it starts nothing new. Its promise settles when
   * that part is done; the error, if any, is `read`'s to report.
   */
  prepare?(): Promise<void>;
  /**
   * Reads the card's application data and has the card sign the till's unpredictable number.
   * `authorizationCryptogram` (online PIN): also the card's ARQC over amount 0 and the same UN
   * (CardData.authorizationCryptogram), after which the card waits for its issuer's answer.
   */
  read(unpredictableNumber: Uint8Array, options?: { authorizationCryptogram?: boolean }): Promise<CardData>;
  /**
   * Hands the card its issuer's answer to the account-verification ARQC (Issuer Authentication
   * Data from Authorize): EXTERNAL AUTHENTICATE. Absent on cards that make no such ARQC.
   */
  issuerAuthenticate?(issuerAuthenticationData: Uint8Array): Promise<IssuerAuthenticationResult>;
  /**
   * Offline (the till cannot reach the card company): the card's transaction started again with
   * the sale's amount and the till's UN; then verifyCardholder, then generateOfflineTc. Absent on
   * cards that cannot approve offline.
   */
  startOfflineSale?(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<void>;
  /** Offline: GENERATE AC asking for a TC with CDA; the card's own bytes, for the till to check. */
  generateOfflineTc?(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<OfflineTc>;
  /** GENERATE AC: an ARQC binding amount, currency and UN to the card's keys. */
  generateAc(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<Cryptogram>;
  /**
   * Has the card itself verify the cardholder (offline PIN, fingerprint match-on-card, knowledge
   * secret), in the same card session, after read and before generateAc: the result goes into
   * the CVR the cryptogram covers. Absent on cards that can do none of these.
   */
  verifyCardholder?(v: CardVerification): Promise<CardVerificationResult>;
}
