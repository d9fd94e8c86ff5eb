import type { CardData } from '@bluetill/protocol';
import type { PaymentCard } from '../ports/payment-card';
import { PhoneError } from './phone-error';

/**
 * The card's data over a UN (the backend's challenge, for the flows that talk to the card company
 * directly); any failure of the card is PhoneError('card') naming `which` card.
 */
export async function readCardOver(
  card: PaymentCard,
  un: Uint8Array,
  which = 'card',
  options: { authorizationCryptogram?: boolean } = {},
): Promise<CardData> {
  try {
    return await card.read(un, options);
  } catch (e) {
    throw new PhoneError('card', `${which} could not be read: ${(e as Error).message}`, { cause: e });
  }
}
