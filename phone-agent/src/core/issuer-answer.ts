import type { PaymentCard } from '../ports/payment-card';

/**
 * The issuer's answer to the card's account-verification ARQC, to the card (EXTERNAL
 * AUTHENTICATE): the card takes the PIN tries left in the one budget from it and checks offline
 * PINs again. Best effort: a card that cannot take it now keeps waiting (it refuses offline PIN
 * until a later answer reaches it); the flow goes on either way. Nothing to give: nothing done.
 */
export async function giveCardIssuerAnswer(
  card: Pick<PaymentCard, 'issuerAuthenticate'>,
  issuerAuthenticationData: Uint8Array | undefined,
): Promise<void> {
  if (!issuerAuthenticationData?.length || !card.issuerAuthenticate) return;
  await card.issuerAuthenticate(issuerAuthenticationData).catch(() => undefined);
}
