/**
 * The connector seen by an independent PC/SC client: real pcscd + vpcd, and OpenSC's
 * opensc-tool (Debian package opensc) sending SELECT PPSE. If pcscd cannot run, beforeAll fails
 * with the reason (no skip).
 *
 * The card is served from this process's event loop: run PC/SC clients asynchronously
 * (execFile, never execFileSync), or pcscd waits on the blocked card and everything deadlocks.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PPSE_CARD_ATR, PPSE_FCI, PpseTestCard } from '../../../../tests/support/pcsc-ppse-card';
import { openVirtualReader, type VirtualReader } from '../../../../tests/support/pcsc-virtual-card';
import {
  openscTool,
  readerNumber,
  receivedBytes,
  SELECT_PPSE_TEXT,
} from '../../../../tests/support/opensc-tool';
import { cardTimingProfile, TimedCard } from '../card-timing';

let virtual: VirtualReader;

beforeAll(async () => {
  virtual = await openVirtualReader();
});
afterAll(async () => {
  await virtual?.close();
});
afterEach(async () => {
  await virtual.removeAll();
});

describe('VpcdConnector through pcscd, seen by opensc-tool', () => {
  it('lists the card in the vpcd reader with its ATR', async () => {
    await virtual.insert(new PpseTestCard());
    const number = await readerNumber(virtual.readerName);
    const atr = await openscTool('--reader', number, '--atr');
    expect(atr.trim().toUpperCase()).toBe(
      Buffer.from(PPSE_CARD_ATR)
        .toString('hex')
        .toUpperCase()
        .replace(/(..)(?!$)/g, '$1:'),
    );
  });

  it('answers SELECT PPSE sent by opensc-tool with the FCI and 9000', async () => {
    const card = new PpseTestCard();
    await virtual.insert(card);
    const number = await readerNumber(virtual.readerName);
    const output = await openscTool(
      '--reader',
      number,
      '--card-driver',
      'default',
      '--send-apdu',
      SELECT_PPSE_TEXT,
    );
    const received = receivedBytes(output);
    expect(received.sw).toBe('9000');
    expect(received.data).toEqual(PPSE_FCI);
    expect(card.ppseSelected).toBe(true);
  });

  it('a card that takes time answers opensc-tool that much later: pcscd pays the timing model too', async () => {
    const number = await readerNumber(virtual.readerName);
    const selectPpse = async () => {
      const t0 = performance.now();
      const output = await openscTool(
        '--reader',
        number,
        '--card-driver',
        'default',
        '--send-apdu',
        SELECT_PPSE_TEXT,
      );
      expect(receivedBytes(output).data).toEqual(PPSE_FCI);
      return performance.now() - t0;
    };
    await virtual.insert(new PpseTestCard());
    const atOnce = await selectPpse();
    await virtual.removeAll();
    // A card whose SELECT takes 1.5 s of processing (nothing else): the model's figure for it, held back by the connector.
    const typical = cardTimingProfile('typical');
    const slowSelect = {
      ...typical,
      turnaroundMs: 0,
      phoneReaderMs: 0,
      processingMs: { ...typical.processingMs, select: 1_500 },
    };
    const card = new TimedCard(new PpseTestCard(), slowSelect, { phoneReader: false });
    await virtual.insert(card);
    const timed = await selectPpse();
    expect(card.card.ppseSelected).toBe(true);
    expect(timed).toBeGreaterThanOrEqual(1_500);
    expect(timed - atOnce).toBeGreaterThan(1_000);
  });

  it("shows the card removed after close() (within pcscd's polling period)", async () => {
    const connector = await virtual.insert(new PpseTestCard());
    const number = await readerNumber(virtual.readerName);
    expect(await openscTool('--reader', number, '--atr')).toMatch(/^3b:/i);
    await connector.close();
    let last = '';
    for (const deadline = Date.now() + 3_000; Date.now() < deadline;) {
      try {
        last = await openscTool('--reader', number, '--atr');
      } catch (error) {
        last = String((error as { stderr?: string }).stderr);
        if (/Card not present/.test(last)) return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect.fail(`opensc-tool still sees a card 3 s after close(): ${last}`);
  });
});
