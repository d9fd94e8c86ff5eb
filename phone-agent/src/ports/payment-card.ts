import type { CardData, Cryptogram, Money } from '@bluetill/protocol';

/**
 * The shopper's payment card as the payment flow needs it. The EMV adapter implements it over a
 * CardReader (SELECT PPSE/AID, GPO, READ RECORD, INTERNAL AUTHENTICATE, GENERATE AC).
 *
 * @example
 *   const data = await card.read(un);                    // records + signature over the UN
 *   const ac = await card.generateAc({ amount, unpredictableNumber: un });
 */
export interface PaymentCard {
  /** Reads the card's application data and has the card sign the till's unpredictable number. */
  read(unpredictableNumber: Uint8Array): Promise<CardData>;
  /** GENERATE AC: an ARQC binding amount, currency and UN to the card's keys. */
  generateAc(input: { amount: Money; unpredictableNumber: Uint8Array }): Promise<Cryptogram>;
}
