import { EmvCard } from './emv-card';
import {
  BLUETILL_AID, buildPersonalizationCommands, CardStatusError, decodeResponseApdu, decodeTlv, findTag, PersonalizationError,
  prepareDemoCard, readRecordCommand, selectCommand, SW, type CardPersonalization, type DemoIssuer,
} from '@bluetill/protocol';

/**
 * Personalizes a blank card the way the issuer's admin tool does: SELECT the application, the
 * authenticated STORE DATA chain, then reads record SFI 1:1 back and checks the PAN. Throws
 * CardStatusError if the card refuses a command, PersonalizationError if the read-back differs.
 * Leaves the card powered off.
 */
export function personalizeCard(card: EmvCard, personalization: CardPersonalization, personalizationKey: Uint8Array): void {
  card.powerOn();
  const commands = [selectCommand(BLUETILL_AID), ...buildPersonalizationCommands(personalization, personalizationKey)];
  for (const command of commands) {
    const { sw } = decodeResponseApdu(card.process(command));
    if (sw !== SW.OK) throw new CardStatusError(sw, 'personalization');
  }
  const back = decodeResponseApdu(card.process(readRecordCommand(1, 1)));
  if (back.sw !== SW.OK) throw new CardStatusError(back.sw, 'personalization read-back');
  const pan = findTag(decodeTlv(back.data), '5A');
  if (!pan || Buffer.from(pan).toString('hex').toUpperCase().replace(/F+$/, '') !== personalization.pan) {
    throw new PersonalizationError('bad_data', 'read-back after personalization does not match');
  }
  card.powerOff();
}

/** Creates and personalizes a simulated card for a demo issuer (see protocol's createDemoIssuer). */
export function issueSimulatedCard(
  issuer: DemoIssuer,
  card: Parameters<typeof prepareDemoCard>[1],
  options: { random?: (n: number) => Uint8Array } = {},
): { card: EmvCard; personalization: CardPersonalization } {
  const { personalization, personalizationKey } = prepareDemoCard(issuer, card);
  const emvCard = new EmvCard(personalizationKey, options);
  personalizeCard(emvCard, personalization, personalizationKey);
  return { card: emvCard, personalization };
}
