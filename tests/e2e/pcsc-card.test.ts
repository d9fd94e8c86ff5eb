/**
 * The EMV card through a real PC/SC stack: the simulated card plugged into pcscd's vpcd driver,
 * the phone agent's nfc-pcsc reader writing (personalizing) it and reading it back, an independent
 * PC/SC tool (opensc-tool) selecting its PPSE, and a whole payment with the card read over PC/SC,
 * verified by the backend (card authentication, sealed PIN, ARQC).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodePersonalizationData,
  decodeTlv,
  findTag,
  toHex,
  BLUETILL_AID,
  type CardPersonalization,
} from '@bluetill/protocol';
import { EmvPaymentCard, NfcPcscCardReader, writeCard } from '@bluetill/phone-agent';
import { EmvCard, personalizeCard, startWorld, type World } from '@bluetill/simulator';
import { openVirtualReader, type VirtualReader } from '../support/pcsc-virtual-card';
import {
  allReceived,
  openscTool,
  readerNumber,
  receivedBytes,
  SELECT_PPSE_TEXT,
} from '../support/opensc-tool';

let world: World;
let virtual: VirtualReader;
let reader: NfcPcscCardReader;
beforeAll(async () => {
  world = await startWorld();
  virtual = await openVirtualReader();
  reader = new NfcPcscCardReader({ readerName: virtual.readerName });
});
afterAll(async () => {
  await reader?.close();
  await virtual?.close();
  await world?.close();
});

function aliceFile(): { personalization: CardPersonalization; personalizationKey: Uint8Array } {
  const file = JSON.parse(readFileSync(join(world.seed.cardsDir, 'card-alice.json'), 'utf8')) as {
    personalization: string;
    personalizationKey: string;
  };
  return {
    personalization: decodePersonalizationData(Buffer.from(file.personalization, 'base64')),
    personalizationKey: new Uint8Array(Buffer.from(file.personalizationKey, 'base64')),
  };
}

const SELECT_AID_TEXT = '00 A4 04 00 07 A0 00 00 09 99 01 01 00';
const GPO_TEXT = '80 A8 00 00 10 83 0E 00 00 00 00 12 50 09 78 A1 B2 C3 D4 02 76 00';

describe('the EMV card over pcscd + vpcd', () => {
  it('answers in ISO 7816-4 terms through pcscd: 6E00 before 6D00, 6A82 for a missing file, 6Cxx for a short Le; the phone resends', async () => {
    const { personalization, personalizationKey } = aliceFile();
    const card = new EmvCard(personalizationKey);
    await personalizeCard(card, personalization, personalizationKey);
    // What crossed the card's contacts, to see the card's own answer behind a client's resend.
    const seen: string[] = [];
    const wire = {
      powerOn: () => card.powerOn(),
      powerOff: () => card.powerOff(),
      process: (command: Uint8Array): Uint8Array => {
        const response = card.process(command);
        seen.push(`${toHex(command)} ${toHex(response.subarray(response.length - 2))}`);
        return response;
      },
    };
    const connector = await virtual.insert(wire);
    try {
      const nr = await readerNumber(virtual.readerName);
      const out = allReceived(
        await openscTool(
          '-r',
          nr,
          '-c',
          'default',
          '-s',
          'FF 6A 00 00 00',
          '-s',
          '00 12 00 00 00',
          '-s',
          SELECT_AID_TEXT,
          '-s',
          GPO_TEXT,
          '-s',
          '00 B2 01 1C 00',
          '-s',
          '00 B2 03 0C 00',
          '-s',
          '00 B2 02 0C 05',
        ),
      );
      // OpenSC, like real reader software, resends 00 B2 02 0C 05 with the Le the card's 6Cxx gave.
      expect(out.map((r) => r.sw)).toEqual(['6E00', '6D00', '9000', '9000', '6A82', '6A83', '9000']);
      // SFI 1 record 2 is 70 L 5F20 L name.
      const recordLength = toHex(Uint8Array.of(5 + personalization.cardholderName.length));
      expect(out[6]?.data.length).toBe(5 + personalization.cardholderName.length);
      expect(seen.slice(-2)).toEqual([`00B2020C05 6C${recordLength}`, `00B2020C${recordLength} 9000`]);

      // The phone's reader (nfc-pcsc) resends a short-Le command with the exact length.
      await reader.waitForCard({ timeoutMs: 10_000 });
      const fromPhone = async (text: string): Promise<string> =>
        toHex(await reader.transmit(Uint8Array.from(Buffer.from(text.replace(/ /g, ''), 'hex'))));
      expect(await fromPhone(SELECT_AID_TEXT)).toMatch(/9000$/);
      expect(await fromPhone(GPO_TEXT)).toMatch(/9000$/);
      const name = Buffer.from(personalization.cardholderName, 'latin1');
      expect(await fromPhone('00 B2 02 0C 05')).toBe(
        `70${toHex(Uint8Array.of(name.length + 3))}5F20${toHex(Uint8Array.of(name.length))}${toHex(name)}9000`,
      );
      expect(await fromPhone('80 CA 9F 36 01')).toBe('9F360200009000');
      expect(seen.slice(-2)).toEqual(['80CA9F3601 6C05', '80CA9F3605 9000']);
    } finally {
      await connector.close();
    }
  });

  it('is written by the phone agent through nfc-pcsc, read back, seen by opensc-tool, and pays', async () => {
    const file = JSON.parse(readFileSync(join(world.seed.cardsDir, 'card-alice.json'), 'utf8')) as {
      personalization: string;
      personalizationKey: string;
    };
    const personalization = decodePersonalizationData(Buffer.from(file.personalization, 'base64'));
    const personalizationKey = new Uint8Array(Buffer.from(file.personalizationKey, 'base64'));

    // A blank card (it knows only its personalization key) goes into the virtual reader.
    const blank = new EmvCard(personalizationKey);
    await virtual.insert(blank);
    const written = await writeCard(reader, { personalization, personalizationKey }, { timeoutMs: 10_000 });
    expect(written.pan).toBe(personalization.pan);
    expect(blank.personalized).toBe(true);

    // An independent PC/SC client selects the PPSE and finds the bluetill application.
    const out = receivedBytes(
      await openscTool('-r', await readerNumber(virtual.readerName), '-c', 'default', '-s', SELECT_PPSE_TEXT),
    );
    expect(out.sw).toBe('9000');
    expect(toHex(findTag(decodeTlv(out.data), '4F') ?? new Uint8Array())).toBe(toHex(BLUETILL_AID));

    // The whole payment, with the card read over PC/SC.
    world.ringUp([{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }]);
    const card = new EmvPaymentCard(reader, {
      country: 276,
      currency: 'EUR',
      now: () => new Date(),
      waitTimeoutMs: 10_000,
    });
    const run = await world.phonePays('card-alice', '1234', { card });
    expect(run.outcome).toMatchObject({ kind: 'approved' });
    expect(world.backend.store.ledgerSum()).toBe(0);
    expect(
      (world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n,
    ).toBe(2);
    // Two cryptograms: the account verification that goes with the online PIN, and the payment's.
    expect(blank.atc).toBe(2);
    expect(blank.issuerWaitAtc).toBeUndefined(); // the card took its issuer's answer over PC/SC
  });
});
