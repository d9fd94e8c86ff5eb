/**
 * A simulated phone's card: a blank EmvCard personalized from an issuer's personalization file,
 * in the phone's in-process reader, behind the PaymentCard port (EMV reading flow, GENERATE AC).
 */
import { readFileSync } from 'node:fs';
import { decodePersonalizationData, type CardPersonalization } from '@bluetill/protocol';
import { EmvPaymentCard, InProcessCardReader, type PaymentCard } from '@bluetill/phone-agent';
import { EmvCard } from './emv-card';
import { personalizeCard } from './issue-card';

export interface PhoneCard {
  readonly card: EmvCard;
  readonly paymentCard: PaymentCard;
}

/** Country 276 (Germany) for the demo till; the card does not care, the PDOL carries it. */
export async function phoneCardFrom(personalization: CardPersonalization, personalizationKey: Uint8Array, o: { currency?: string; country?: number } = {}): Promise<PhoneCard> {
  const card = new EmvCard(personalizationKey);
  await personalizeCard(card, personalization, personalizationKey);
  const reader = new InProcessCardReader(card);
  const paymentCard = new EmvPaymentCard(reader, { country: o.country ?? 276, currency: o.currency ?? 'EUR', now: () => new Date(), waitTimeoutMs: 1_000 });
  return { card, paymentCard };
}

export function phoneCardFromFile(path: string): Promise<PhoneCard> {
  const file = JSON.parse(readFileSync(path, 'utf8')) as { personalization: string; personalizationKey: string };
  return phoneCardFrom(decodePersonalizationData(Buffer.from(file.personalization, 'base64')), new Uint8Array(Buffer.from(file.personalizationKey, 'base64')));
}
