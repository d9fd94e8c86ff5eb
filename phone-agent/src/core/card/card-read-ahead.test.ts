/**
 * Reading the card ahead of the till's unpredictable number (readCardPrefix, then readCard with
 * the prefix; EmvPaymentCard.prepare, then read): replayed against the recorded bluetill card,
 * whose PDOL names the UN, so its GPO is sent twice (a placeholder UN ahead, the till's after)
 * and the records once.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ReplayCardReader } from '../../adapters/card-reader.replay';
import type { TransactionData } from './card-read-types';
import { readCard, readCardPrefix } from './card-exchange';
import { EmvPaymentCard } from './emv-payment-card';

const FIXTURE = readFileSync(new URL('./fixtures/bluetill-card.transcript', import.meta.url), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '' && !l.startsWith('#'));
const UN = 'A1B2C3D4';
const tx: TransactionData = {
  amount: 1250n,
  currency: 978,
  country: 276,
  unpredictableNumber: Uint8Array.from(Buffer.from(UN, 'hex')),
  date: new Date('2026-11-24T12:00:00Z'),
};
const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex').toUpperCase() : '');

/** The command line starting with `prefix` and its answer, from the recorded tap. */
function exchange(prefix: string): [string, string] {
  const i = FIXTURE.findIndex((l) => l.startsWith(`=> ${prefix}`));
  if (i < 0) throw new Error(`no command ${prefix}`);
  return [FIXTURE[i]!, FIXTURE[i + 1]!];
}
const ATR = FIXTURE[0]!;
const PPSE = exchange('00A404000E');
const AID = exchange('00A4040007');
const GPO = exchange('80A8');
const RECORDS = FIXTURE.flatMap((l, i) => (l.startsWith('=> 00B2') ? [l, FIXTURE[i + 1]!] : []));
const IA = exchange('0088');
/** The GPO with the phone's placeholder UN (zeros) in its PDOL data, same answer. */
const GPO_AHEAD: [string, string] = [GPO[0].replace(UN, '00000000'), GPO[1]];
/** Same records, another AFL (ODA count 2 for SFI 1): the card's application data differ. */
const GPO_OTHER_AFL: [string, string] = [GPO[0], '<= 770E82023900940808010202100104009000'];

const transcript = (...parts: Array<string | readonly string[]>) => parts.flat().join('\n');
const AHEAD = [ATR, ...PPSE, ...AID, ...GPO_AHEAD, ...RECORDS, ...AID];

describe('reading the card ahead of the UN', () => {
  it('the prefix is PPSE, AID, GPO, records, AID again; with the UN only GPO and INTERNAL AUTHENTICATE follow; the read equals a whole one', async () => {
    const reader = new ReplayCardReader(transcript(AHEAD, GPO, IA));
    await reader.waitForCard({ timeoutMs: 1 });
    const prefix = await readCardPrefix(reader, { ...tx, unpredictableNumber: new Uint8Array(4) });
    expect(hex(prefix.aid)).toBe('A0000009990101');
    expect(prefix.records.map((r) => `${r.sfi}:${r.record}:${r.oda ? 'oda' : '-'}`)).toEqual([
      '1:1:oda',
      '1:2:-',
      '2:1:-',
      '2:2:-',
      '2:3:-',
      '2:4:-',
    ]);
    const read = await readCard(reader, tx, { prefix });

    const whole = new ReplayCardReader(transcript(ATR, PPSE, AID, GPO, RECORDS, IA));
    await whole.waitForCard({ timeoutMs: 1 });
    const expected = await readCard(whole, tx);
    await whole.close();
    expect(read).toEqual(expected);
    expect(hex(read.pdolData)).toBe('0000000012500978A1B2C3D40276'); // the GPO the CDA hash names carries the till's UN
    expect(hex(read.unpredictableNumber)).toBe(UN);
    await expect(reader.close()).resolves.toBeUndefined(); // close rejects on leftovers: nothing else was expected
  });

  it('another AIP or AFL at the second GPO: the records are read again', async () => {
    const reader = new ReplayCardReader(transcript(AHEAD, GPO_OTHER_AFL, RECORDS, IA));
    await reader.waitForCard({ timeoutMs: 1 });
    const prefix = await readCardPrefix(reader, { ...tx, unpredictableNumber: new Uint8Array(4) });
    const read = await readCard(reader, tx, { prefix });
    expect(hex(read.afl)).toBe('0801020210010400');
    expect(read.records).toHaveLength(6);
    await expect(reader.close()).resolves.toBeUndefined();
  });

  it('a PDOL that changes between the two selections is a malformed answer', async () => {
    const otherPdol = AID[1].replace('9F38', '9F39');
    const reader = new ReplayCardReader(transcript(ATR, PPSE, AID, GPO_AHEAD, RECORDS, AID[0], otherPdol));
    await reader.waitForCard({ timeoutMs: 1 });
    await expect(
      readCardPrefix(reader, { ...tx, unpredictableNumber: new Uint8Array(4) }),
    ).rejects.toMatchObject({ code: 'malformed_response' });
  });
});

describe('EmvPaymentCard: prepare, then read', () => {
  // The port reads with amount 0 (the basket is not known yet).
  const amount0 = (line: string) => line.replace('000000001250', '000000000000');
  const card = (t: string) =>
    new EmvPaymentCard(new ReplayCardReader(t), {
      country: 276,
      currency: 'EUR',
      now: () => new Date('2026-11-24T12:00:00Z'),
    });
  const ahead = [ATR, ...PPSE, ...AID, amount0(GPO_AHEAD[0]), GPO_AHEAD[1], ...RECORDS, ...AID];

  it('read(un) after prepare sends GPO and INTERNAL AUTHENTICATE only; prepare twice starts nothing new', async () => {
    const c = card(transcript(ahead, amount0(GPO[0]), GPO[1], IA));
    await Promise.all([c.prepare(), c.prepare()]);
    const data = await c.read(tx.unpredictableNumber);
    expect(data.pan).toBe('9990010000000017');
    expect(data.signedDynamicData.length).toBe(96);
  });

  it('a prefix is used once: the next read reads the whole card', async () => {
    const c = card(
      transcript(ahead, amount0(GPO[0]), GPO[1], IA, ATR, PPSE, AID, amount0(GPO[0]), GPO[1], RECORDS, IA),
    );
    await c.prepare();
    await c.read(tx.unpredictableNumber);
    await expect(c.read(tx.unpredictableNumber)).resolves.toMatchObject({ pan: '9990010000000017' });
  });

  it('a card that refuses the GPO after the prefix (it was reset in between) is read whole', async () => {
    const c = card(
      transcript(ahead, amount0(GPO[0]), '<= 6985', ATR, PPSE, AID, amount0(GPO[0]), GPO[1], RECORDS, IA),
    );
    await c.prepare();
    await expect(c.read(tx.unpredictableNumber)).resolves.toMatchObject({ pan: '9990010000000017' });
  });

  it('a failed prepare costs nothing: read reads the whole card and reports its own errors', async () => {
    const c = card(transcript(ATR, PPSE[0], '<= 6A82', ATR, PPSE, AID, amount0(GPO[0]), GPO[1], RECORDS, IA));
    await expect(c.prepare()).rejects.toMatchObject({ code: 'no_application' });
    await expect(c.read(tx.unpredictableNumber)).resolves.toMatchObject({ pan: '9990010000000017' });
    const absent = card(transcript(ATR, PPSE[0], '<= 6A82', ATR, PPSE[0], '<= 6A82'));
    await absent.prepare().catch(() => undefined);
    await expect(absent.read(tx.unpredictableNumber)).rejects.toMatchObject({ code: 'no_application' });
  });
});
