/**
 * Writing a card (the "IC card write function" of the claims): issues a blank card from the
 * issuer's personalization data over any CardReader — SELECT the application, the STORE DATA
 * chain authenticated under the card's personalization key — then reads it back to confirm.
 */
import {
  BLUETILL_AID,
  buildPersonalizationCommands,
  decodeResponseApdu,
  decodeTlv,
  findTag,
  readRecordCommand,
  selectCommand,
  SW,
  toHex,
  type CardPersonalization,
} from '@bluetill/protocol';
import type { CardReader } from '../../ports/card-reader';
import { CardReadError } from './card-read-error';

export interface WrittenCard {
  /** PAN read back from the card, masked by the caller before showing it. */
  readonly pan: string;
  readonly commands: number;
}

export async function writeCard(
  reader: CardReader,
  perso: { personalization: CardPersonalization; personalizationKey: Uint8Array },
  o: { timeoutMs?: number } = {},
): Promise<WrittenCard> {
  await reader.waitForCard({ timeoutMs: o.timeoutMs ?? 30_000 });
  const commands = [
    selectCommand(BLUETILL_AID),
    ...buildPersonalizationCommands(perso.personalization, perso.personalizationKey),
  ];
  for (const [i, command] of commands.entries()) {
    const { sw } = decodeResponseApdu(await reader.transmit(command));
    if (sw !== SW.OK)
      throw new CardReadError(
        'card_status',
        `card refused personalization command ${i + 1} of ${commands.length} (SW ${sw.toString(16).toUpperCase()})`,
        { sw },
      );
  }
  const back = decodeResponseApdu(await reader.transmit(readRecordCommand(1, 1)));
  if (back.sw !== SW.OK)
    throw new CardReadError('card_status', `read-back failed (SW ${back.sw.toString(16).toUpperCase()})`, {
      sw: back.sw,
    });
  let panField: Uint8Array | undefined;
  try {
    panField = findTag(decodeTlv(back.data), '5A');
  } catch (cause) {
    throw new CardReadError('malformed_response', 'read-back record does not parse', { cause });
  }
  const pan = panField ? toHex(panField).replace(/F+$/, '') : '';
  if (pan !== perso.personalization.pan)
    throw new CardReadError('missing_data', 'the card does not read back what was written');
  return { pan, commands: commands.length };
}
