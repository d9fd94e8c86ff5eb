/**
 * The connector seen by an independent PC/SC client: real pcscd + vpcd, and OpenSC's
 * opensc-tool (Debian package opensc) sending SELECT PPSE. If pcscd cannot run, beforeAll fails
 * with the reason (no skip).
 *
 * The card is served from this process's event loop: run PC/SC clients asynchronously
 * (execFile, never execFileSync), or pcscd waits on the blocked card and everything deadlocks.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PPSE_CARD_ATR, PPSE_FCI, PpseTestCard } from '../../../../tests/support/pcsc-ppse-card';
import { openVirtualReader, type VirtualReader } from '../../../../tests/support/pcsc-virtual-card';

const SELECT_PPSE_TEXT = '00 A4 04 00 0E 32 50 41 59 2E 53 59 53 2E 44 44 46 30 31 00';

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

async function openscTool(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('opensc-tool', args, { encoding: 'utf8', timeout: 15_000 });
  return stdout;
}

/** The "Nr." opensc-tool -l gives our reader. */
async function readerNumber(name: string): Promise<string> {
  const listing = await openscTool('--list-readers');
  const line = listing.split('\n').find((l) => l.trimEnd().endsWith(name));
  const number = line?.trim().split(/\s+/)[0];
  if (number === undefined || !/^\d+$/.test(number))
    throw new Error(`opensc-tool -l does not list "${name}":\n${listing}`);
  return number;
}

/** The hex bytes opensc-tool prints after "Received (SW1=.., SW2=..):" (offset-less dump lines). */
function receivedBytes(output: string): { sw: string; data: Uint8Array } {
  const match = /Received \(SW1=0x([0-9a-f]{2}), SW2=0x([0-9a-f]{2})\)(?::\n)?([\s\S]*)/i.exec(output);
  if (!match) throw new Error(`unexpected opensc-tool output:\n${output}`);
  const hexPairs =
    (match[3] ?? '')
      .split('\n')
      .map((line) => line.slice(0, 48)) // the hex column; the ASCII column follows
      .join(' ')
      .match(/\b[0-9A-F]{2}\b/gi) ?? [];
  return {
    sw: `${match[1]}${match[2]}`.toUpperCase(),
    data: Uint8Array.from(hexPairs.map((h) => Number.parseInt(h, 16))),
  };
}

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
