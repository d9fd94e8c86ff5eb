import { EmvCard } from './emv-card';
import { prepareDemoCard, type CardPersonalization, type DemoIssuer } from '@bluetill/protocol';
import { InProcessCardReader, writeCard } from '@bluetill/phone-agent';

/**
 * Personalizes a blank card the way a card writer does (the phone agent's writeCard: SELECT, the
 * authenticated STORE DATA chain, read-back), here through the in-process reader. Rejects with
 * CardReadError if the card refuses a command or reads back something else. Leaves the card
 * powered off.
 */
export async function personalizeCard(
  card: EmvCard,
  personalization: CardPersonalization,
  personalizationKey: Uint8Array,
): Promise<void> {
  const reader = new InProcessCardReader(card);
  try {
    await writeCard(reader, { personalization, personalizationKey }, { timeoutMs: 1_000 });
  } finally {
    await reader.close();
    card.powerOff();
  }
}

/** Creates and personalizes a simulated card for a demo issuer (see protocol's createDemoIssuer). */
export async function issueSimulatedCard(
  issuer: DemoIssuer,
  card: Parameters<typeof prepareDemoCard>[1],
  options: { random?: (n: number) => Uint8Array } = {},
): Promise<{ card: EmvCard; personalization: CardPersonalization }> {
  const { personalization, personalizationKey } = prepareDemoCard(issuer, card);
  const emvCard = new EmvCard(personalizationKey, options);
  await personalizeCard(emvCard, personalization, personalizationKey);
  return { card: emvCard, personalization };
}
