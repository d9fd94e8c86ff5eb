/**
 * A simulated phone's card: a blank EmvCard personalized from an issuer's personalization file,
 * in the phone's in-process reader, behind the PaymentCard port (EMV reading flow, GENERATE AC).
 */
import { readFileSync } from 'node:fs';
import { decodePersonalizationData, type CardPersonalization } from '@bluetill/protocol';
import { EmvPaymentCard, InProcessCardReader, type PaymentCard } from '@bluetill/phone-agent';
import { EmvCard } from './emv-card';
import { personalizeCard } from './issue-card';
import { TimedCard, type CardProfileName } from './card-timing';

export interface PhoneCard {
  readonly card: EmvCard;
  readonly paymentCard: PaymentCard;
}

/** Country 276 (Germany) for the demo till; the card does not care, the PDOL carries it. */
/**
 * `cardProfile` (default `instant`): how long the card takes (card-timing.ts); the phone's reader
 * holds each answer back that long, its own NFC stack's share included.
 */
export async function phoneCardFrom(
  personalization: CardPersonalization,
  personalizationKey: Uint8Array,
  o: { currency?: string; country?: number; cardProfile?: CardProfileName } = {},
): Promise<PhoneCard> {
  const card = new EmvCard(personalizationKey);
  await personalizeCard(card, personalization, personalizationKey);
  const reader = new InProcessCardReader(
    o.cardProfile && o.cardProfile !== 'instant' ? new TimedCard(card, o.cardProfile) : card,
  );
  const paymentCard = new EmvPaymentCard(reader, {
    country: o.country ?? 276,
    currency: o.currency ?? 'EUR',
    now: () => new Date(),
    waitTimeoutMs: 1_000,
  });
  return { card, paymentCard };
}

export function phoneCardFromFile(
  path: string,
  o: { cardProfile?: CardProfileName } = {},
): Promise<PhoneCard> {
  const file = JSON.parse(readFileSync(path, 'utf8')) as {
    personalization: string;
    personalizationKey: string;
  };
  return phoneCardFrom(
    decodePersonalizationData(Buffer.from(file.personalization, 'base64')),
    new Uint8Array(Buffer.from(file.personalizationKey, 'base64')),
    o,
  );
}
