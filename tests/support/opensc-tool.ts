/**
 * OpenSC's opensc-tool (Debian package opensc) as an independent PC/SC client in tests.
 * Run it asynchronously (execFile): a simulated card served from the test's own event loop must
 * keep answering pcscd while the tool waits.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export const SELECT_PPSE_TEXT = '00 A4 04 00 0E 32 50 41 59 2E 53 59 53 2E 44 44 46 30 31 00';

export async function openscTool(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('opensc-tool', args, { encoding: 'utf8', timeout: 15_000 });
  return stdout;
}

/** The "Nr." opensc-tool -l gives our reader. */
export async function readerNumber(name: string): Promise<string> {
  const listing = await openscTool('--list-readers');
  const line = listing.split('\n').find((l) => l.trimEnd().endsWith(name));
  const number = line?.trim().split(/\s+/)[0];
  if (number === undefined || !/^\d+$/.test(number))
    throw new Error(`opensc-tool -l does not list "${name}":\n${listing}`);
  return number;
}

/** The hex bytes opensc-tool prints after "Received (SW1=.., SW2=..):" (offset-less dump lines). */
export function receivedBytes(output: string): { sw: string; data: Uint8Array } {
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

/** Every "Received (SW1=.., SW2=..)" block of one opensc-tool run with several -s, in order. */
export function allReceived(output: string): { sw: string; data: Uint8Array }[] {
  return output
    .split(/(?=Received \(SW1=)/)
    .filter((part) => part.startsWith('Received'))
    .map((part) => receivedBytes(part.split(/\nSending: /)[0] ?? part));
}
