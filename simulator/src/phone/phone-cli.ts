/** The phone agent's CLI with the simulator's EMV card for `--card-file` (bin/bluetill-phone-sim). */
import { runPhoneCli } from '@bluetill/phone-agent';
import { EmvCard } from '../card/emv-card';
import { personalizeCard } from '../card/issue-card';

export function runPhoneCliWithSimulatedCards(argv: readonly string[]): Promise<void> {
  return runPhoneCli(argv, {
    name: 'bluetill-phone-sim',
    simulatedCards: {
      blank: (key) => new EmvCard(key),
      personalize: (card, personalization, key) => personalizeCard(card as EmvCard, personalization, key),
    },
  });
}
