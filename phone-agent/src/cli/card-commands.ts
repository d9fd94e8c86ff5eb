/** `bluetill-phone card write|read`: issuing tools for a PC/SC reader. Exit 1 when the card or reader failed. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { decodePersonalizationData, maskPan } from '@bluetill/protocol';
import { NfcPcscCardReader } from '../adapters/card-reader.nfc-pcsc';
import { CardReaderError } from '../ports/card-reader';
import { CardReadError, EmvPaymentCard, writeCard } from '../core/card/index';
import { EXIT } from './exit-codes';
import { cardMessage } from './pay-report';

function fail(error: unknown, name: string): never {
  if (error instanceof CardReaderError || error instanceof CardReadError) {
    // The same words as pay's, the code kept out of the sentence.
    console.error(`${name}: ${cardMessage(error).message}`);
    process.exit(EXIT.error);
  }
  throw error;
}

export function registerCard(program: Command): void {
  const card = program.command('card').description('read and write IC cards through a PC/SC reader');

  card
    .command('write')
    .description("write an issuer's personalization file to a blank card, then read it back to confirm")
    .argument('<file>', 'personalization file (from bluetill-backend card issue)')
    .option('--reader <name>', 'part of the reader name')
    .option('--timeout <ms>', 'how long to wait for a card', '30000')
    .action(async (file: string, o: { reader?: string; timeout: string }) => {
      const f = JSON.parse(readFileSync(file, 'utf8')) as {
        personalization: string;
        personalizationKey: string;
      };
      const perso = {
        personalization: decodePersonalizationData(Buffer.from(f.personalization, 'base64')),
        personalizationKey: new Uint8Array(Buffer.from(f.personalizationKey, 'base64')),
      };
      const reader = new NfcPcscCardReader(o.reader ? { readerName: o.reader } : {});
      try {
        console.error('Present the blank card...');
        const written = await writeCard(reader, perso, { timeoutMs: Number(o.timeout) });
        console.log(`card written and read back: ${maskPan(written.pan)} (${written.commands} commands)`);
      } catch (error) {
        fail(error, program.name());
      } finally {
        await reader.close();
      }
    });

  card
    .command('read')
    .description('read the payment application of a card')
    .option('--reader <name>', 'part of the reader name')
    .option('--timeout <ms>', 'how long to wait for a card', '30000')
    .option('--json', 'print JSON')
    .action(async (o: { reader?: string; timeout: string; json?: boolean }) => {
      const reader = new NfcPcscCardReader(o.reader ? { readerName: o.reader } : {});
      try {
        const emv = new EmvPaymentCard(reader, {
          country: 276,
          currency: 'EUR',
          now: () => new Date(),
          waitTimeoutMs: Number(o.timeout),
        });
        const data = await emv.read(new Uint8Array(randomBytes(4)));
        const shown = {
          cardNumber: maskPan(data.pan),
          expiry: data.expiry,
          cardholderName: data.cardholderName,
          panSequence: data.panSequence,
          signedUnpredictableNumber: data.signedDynamicData.length > 0,
        };
        console.log(
          o.json
            ? JSON.stringify(shown)
            : `card ${shown.cardNumber}, expires ${shown.expiry.slice(2)}/${shown.expiry.slice(0, 2)}, ${shown.cardholderName}`,
        );
      } catch (error) {
        fail(error, program.name());
      } finally {
        await reader.close();
      }
    });
}
