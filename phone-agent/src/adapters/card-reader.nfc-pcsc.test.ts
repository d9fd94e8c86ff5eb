/**
 * NfcPcscCardReader against real PC/SC: a real pcscd (started here if none runs), the real vpcd
 * driver, real nfc-pcsc, and a simulated card plugged into vpcd's slot over TCP.
 * If pcscd cannot run, beforeAll fails with the reason (no skip).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  hex,
  PPSE_CARD_ATR,
  PPSE_FCI,
  PpseTestCard,
  SELECT_PPSE,
} from '../../../tests/support/pcsc-ppse-card';
import { openVirtualReader, type VirtualReader } from '../../../tests/support/pcsc-virtual-card';
import { CardReaderError } from '../ports/card-reader';
import { NfcPcscCardReader } from './card-reader.nfc-pcsc';

let virtual: VirtualReader;
const opened: NfcPcscCardReader[] = [];

beforeAll(async () => {
  virtual = await openVirtualReader();
  console.info(
    `pcscd ready in ${virtual.pcscdReadyMs} ms (${virtual.startedPcscd ? 'started here' : 'already running'}); slot "${virtual.readerName}"`,
  );
});
afterAll(async () => {
  await virtual?.close();
});
afterEach(async () => {
  for (const reader of opened.splice(0)) await reader.close();
  await virtual.removeAll();
});

function open(options: ConstructorParameters<typeof NfcPcscCardReader>[0] = {}): NfcPcscCardReader {
  const reader = new NfcPcscCardReader({ readerName: virtual.readerName, ...options });
  opened.push(reader);
  return reader;
}

async function rejection(promise: Promise<unknown>): Promise<CardReaderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CardReaderError);
  return error as CardReaderError;
}

describe('NfcPcscCardReader over pcscd + vpcd', () => {
  it('finds the card and returns its ATR; SELECT PPSE returns the FCI; unknown INS gives 6D00', async () => {
    const card = new PpseTestCard();
    const connector = await virtual.insert(card);
    const reader = open();
    const { atr } = await reader.waitForCard({ timeoutMs: 10_000 });
    expect(atr).toEqual(PPSE_CARD_ATR);
    expect(await reader.transmit(SELECT_PPSE)).toEqual(Uint8Array.of(...PPSE_FCI, 0x90, 0x00));
    expect(card.ppseSelected).toBe(true);
    expect(await reader.transmit(hex('00 B2 01 0C 00'))).toEqual(hex('6D 00'));
    expect(card.powerOns).toBeGreaterThanOrEqual(1);
    await connector.close();
  });

  it('handles 61xx (GET RESPONSE) and 6Cxx (resend with Le) transparently', async () => {
    const card = new PpseTestCard();
    const connector = await virtual.insert(card);
    const reader = open();
    await reader.waitForCard({ timeoutMs: 10_000 });
    expect(await reader.transmit(hex('00 84 00 00 08'))).toEqual(hex('01 02 03 04 05 06 07 08 90 00'));
    expect(await reader.transmit(hex('80 CA 9F 36 00'))).toEqual(hex('9F 36 02 00 2A 90 00'));
    await connector.close();
  });

  it('serializes concurrent transmits (one exchange at a time)', async () => {
    const connector = await virtual.insert(new PpseTestCard());
    const reader = open();
    await reader.waitForCard({ timeoutMs: 10_000 });
    const results = await Promise.all([
      reader.transmit(SELECT_PPSE),
      reader.transmit(hex('00 84 00 00 08')),
      reader.transmit(hex('00 00 00 00')),
    ]);
    expect(results.map((r) => Buffer.from(r.subarray(-2)).toString('hex'))).toEqual(['9000', '9000', '6d00']);
    await connector.close();
  });

  it('card pulled mid-session: card_removed, then no_card, then a new card works', async () => {
    const first = await virtual.insert(new PpseTestCard());
    const reader = open();
    await reader.waitForCard({ timeoutMs: 10_000 });
    expect(await reader.transmit(SELECT_PPSE)).toEqual(Uint8Array.of(...PPSE_FCI, 0x90, 0x00));

    await first.close(); // the card leaves the field
    expect((await rejection(reader.transmit(SELECT_PPSE))).code).toBe('card_removed');
    expect((await rejection(reader.transmit(SELECT_PPSE))).code).toBe('card_removed');
    expect((await rejection(reader.waitForCard({ timeoutMs: 300 }))).code).toBe('no_card');

    const card = new PpseTestCard();
    const second = await virtual.insert(card);
    expect((await reader.waitForCard({ timeoutMs: 10_000 })).atr).toEqual(PPSE_CARD_ATR);
    expect(await reader.transmit(SELECT_PPSE)).toEqual(Uint8Array.of(...PPSE_FCI, 0x90, 0x00));
    expect(card.ppseSelected).toBe(true);
    await second.close();
  });

  it('no_reader when no reader matches the name', async () => {
    const reader = open({ readerName: 'No Such Reader', readerTimeoutMs: 500 });
    const error = await rejection(reader.waitForCard({ timeoutMs: 5_000 }));
    expect(error.code).toBe('no_reader');
  });

  it('no_reader (not a hang) when pcscd is not reachable', async () => {
    const reader = open({ pcscdSocketPath: '/nonexistent/pcscd.comm', readerTimeoutMs: 300 });
    expect((await rejection(reader.waitForCard({ timeoutMs: 5_000 }))).code).toBe('no_reader');
  });

  it('no_card before any card, and transmit without a card is no_card', async () => {
    const reader = open();
    expect((await rejection(reader.waitForCard({ timeoutMs: 500 }))).code).toBe('no_card');
    expect((await rejection(reader.transmit(SELECT_PPSE))).code).toBe('no_card');
  });

  it('close() releases every PC/SC handle: a process using it exits by itself', async () => {
    const connector = await virtual.insert(new PpseTestCard());
    const probe = fileURLToPath(new URL('../../../tests/support/pcsc-read-atr.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
    const { stdout } = await promisify(execFile)(tsx, [probe, virtual.readerName], { timeout: 15_000 });
    expect(stdout.trim()).toBe(`atr=${PPSE_CARD_ATR.length} response=${PPSE_FCI.length + 2}`);
    await connector.close();
  });
});
