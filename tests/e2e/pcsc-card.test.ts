/**
 * The EMV card through a real PC/SC stack: the simulated card plugged into pcscd's vpcd driver,
 * the phone agent's nfc-pcsc reader writing (personalizing) it and reading it back, an independent
 * PC/SC tool (opensc-tool) selecting its PPSE, and a whole payment with the card read over PC/SC,
 * verified by the backend (card authentication, sealed PIN, ARQC).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePersonalizationData, decodeTlv, findTag, toHex, BLUETILL_AID } from '@bluetill/protocol';
import { EmvPaymentCard, NfcPcscCardReader, writeCard } from '@bluetill/phone-agent';
import { EmvCard, startWorld, type World } from '@bluetill/simulator';
import { openVirtualReader, type VirtualReader } from '../support/pcsc-virtual-card';
import { openscTool, readerNumber, receivedBytes, SELECT_PPSE_TEXT } from '../support/opensc-tool';

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

describe('the EMV card over pcscd + vpcd', () => {
  it('is written by the phone agent through nfc-pcsc, read back, seen by opensc-tool, and pays', async () => {
    const file = JSON.parse(readFileSync(join(world.seed.cardsDir, 'card-alice.json'), 'utf8')) as { personalization: string; personalizationKey: string };
    const personalization = decodePersonalizationData(Buffer.from(file.personalization, 'base64'));
    const personalizationKey = new Uint8Array(Buffer.from(file.personalizationKey, 'base64'));

    // A blank card (it knows only its personalization key) goes into the virtual reader.
    const blank = new EmvCard(personalizationKey);
    await virtual.insert(blank);
    const written = await writeCard(reader, { personalization, personalizationKey }, { timeoutMs: 10_000 });
    expect(written.pan).toBe(personalization.pan);
    expect(blank.personalized).toBe(true);

    // An independent PC/SC client selects the PPSE and finds the bluetill application.
    const out = receivedBytes(await openscTool('-r', await readerNumber(virtual.readerName), '-c', 'default', '-s', SELECT_PPSE_TEXT));
    expect(out.sw).toBe('9000');
    expect(toHex(findTag(decodeTlv(out.data), '4F') ?? new Uint8Array())).toBe(toHex(BLUETILL_AID));

    // The whole payment, with the card read over PC/SC.
    world.ringUp([{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }]);
    const card = new EmvPaymentCard(reader, { country: 276, currency: 'EUR', now: () => new Date(), waitTimeoutMs: 10_000 });
    const run = await world.phonePays('card-alice', '1234', { card });
    expect(run.outcome).toMatchObject({ kind: 'approved' });
    expect(world.backend.store.ledgerSum()).toBe(0);
    expect((world.backend.store.db.prepare('SELECT COUNT(*) AS n FROM postings').get() as { n: number }).n).toBe(2);
    expect(blank.atc).toBe(1);
  });
});
