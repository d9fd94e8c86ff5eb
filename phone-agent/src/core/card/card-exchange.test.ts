import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ReplayCardReader } from '../../adapters/card-reader.replay';
import { CardReadError } from './card-read-error';
import type { TransactionData } from './card-read-types';
import { generateCryptogram, readCard } from './card-exchange';

// Recorded from the simulated card (simulator/src/card) with InProcessCardReader; see the header.
const TRANSCRIPT = readFileSync(new URL('./fixtures/bluetill-card.transcript', import.meta.url), 'utf8');
const tx: TransactionData = {
  amount: 1250n,
  currency: 978,
  country: 276,
  unpredictableNumber: Uint8Array.from([0xa1, 0xb2, 0xc3, 0xd4]),
  date: new Date('2026-11-24T12:00:00Z'),
};
const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex').toUpperCase() : '');

/** Replaces the response to the command starting with `commandPrefix`. */
function withResponse(commandPrefix: string, response: string): string {
  const lines = TRANSCRIPT.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`=> ${commandPrefix}`));
  if (i < 0) throw new Error(`no command ${commandPrefix}`);
  lines[i + 1] = `<= ${response}`;
  return lines.join('\n');
}

async function readFrom(transcript: string): Promise<unknown> {
  const reader = new ReplayCardReader(transcript);
  await reader.waitForCard({ timeoutMs: 1 });
  return readCard(reader, tx).catch((e: unknown) => e);
}

describe('readCard against a recorded transcript', () => {
  it('reads PAN, expiry, name, PSN, certificates, signed dynamic data; then the ARQC; no leftovers', async () => {
    const reader = new ReplayCardReader(TRANSCRIPT);
    expect(hex((await reader.waitForCard({ timeoutMs: 1 })).atr)).toBe('3B80800101');
    const read = await readCard(reader, tx);
    expect(read.pan).toBe('9990010000000017');
    expect(read.expiry).toBe('301231');
    expect(read.cardholderName).toBe('TEST/CARDHOLDER');
    expect(read.psn).toBe(1);
    expect(hex(read.aid)).toBe('A0000009990101');
    expect(hex(read.aip)).toBe('3900');
    expect(hex(read.pdolData)).toBe('0000000012500978A1B2C3D40276');
    expect(read.records.map((r) => `${r.sfi}:${r.record}`)).toEqual([
      '1:1',
      '1:2',
      '2:1',
      '2:2',
      '2:3',
      '2:4',
    ]);
    expect(read.issuerCertificate?.certificate.length).toBe(128);
    expect(read.iccCertificate?.certificate.length).toBe(128);
    expect(read.signedDynamicData?.length).toBe(96);
    // Recorded from a card personalized without CDOL2: still read, CDOL2 absent.
    expect(read.cdol2).toBeUndefined();
    // Static data = SFI 1 record 1 without its 70 template header, plus the AIP (9F4A = 82).
    expect(hex(read.staticData).endsWith('9F4A01823900')).toBe(true);
    const c = await generateCryptogram(reader, read, tx);
    expect(c.cid).toBe(0x80);
    expect(hex(c.atc)).toBe('0001');
    expect(c.arqc?.length).toBe(8);
    expect(hex(c.iad).slice(0, 6)).toBe('060102');
    expect(hex(c.cvmResults)).toBe('3F0000');
    await reader.close();
  });

  it.each([
    ['PPSE not found', '00A404000E', '6A82', 'no_application', 0x6a82],
    [
      'PPSE without entries',
      '00A404000E',
      '6F12840E325041592E5359532E4444463031A5009000',
      'no_application',
      undefined,
    ],
    ['AID select refused', '00A4040007', '6985', 'card_status', 0x6985],
    ['GPO conditions not satisfied', '80A80000', '6985', 'card_status', 0x6985],
    ['GPO without AFL', '80A80000', '770482023900' + '9000', 'malformed_response', undefined],
    ['GPO with a malformed AFL', '80A80000', '770A820239009404000101009000', 'malformed_response', undefined],
    ['record not found', '00B2010C', '6A83', 'card_status', 0x6a83],
    ['truncated record', '00B2010C', '7057570F99909000', 'malformed_response', undefined],
    ['record not a 70 template', '00B2020C', '5F2003414243' + '9000', 'malformed_response', undefined],
    ['status word only, 1 byte', '00B2020C', '90', 'malformed_response', undefined],
    ['INTERNAL AUTHENTICATE refused', '0088000004', '6985', 'card_status', 0x6985],
    ['INTERNAL AUTHENTICATE without 9F4B', '0088000004', '77009000', 'malformed_response', undefined],
    ['card removed mid-read', '00B2011400', 'REMOVED', 'card_removed', undefined],
  ])('%s → CardReadError(%s)', async (_name, command, response, code, sw) => {
    const err = await readFrom(withResponse(command, response));
    expect(err).toBeInstanceOf(CardReadError);
    expect((err as CardReadError).code).toBe(code);
    expect((err as CardReadError).sw).toBe(sw);
    // Never card data in the message.
    expect((err as Error).message).not.toContain('9990010000000017');
  });

  it('a PPSE answer that is not TLV ends cleanly', async () => {
    const err = await readFrom(withResponse('00A404000E', '6F05FFFF9000'));
    expect((err as CardReadError).code).toBe('malformed_response');
  });

  it('a CDOL2 that does not parse ends with malformed_response', async () => {
    const record = '7012' + '5F200F544553542F43415244484F4C444552';
    expect(((await readFrom(withResponse('00B2020C', `${record}9000`))) as { pan: string }).pan).toBe(
      '9990010000000017',
    );
    // The same record with a truncated 8D (a tag without its length byte).
    const err = await readFrom(
      withResponse('00B2020C', '70165F200F544553542F43415244484F4C4445528D029F029000'),
    );
    expect((err as CardReadError).code).toBe('malformed_response');
  });

  it('records without a PAN end with missing_data', async () => {
    const err = await readFrom(withResponse('00B2010C', '70035F20009000'));
    expect((err as CardReadError).code).toBe('missing_data');
  });

  it('GENERATE AC errors: status word, malformed answer', async () => {
    for (const [response, code] of [
      ['6985', 'card_status'],
      ['77039F27019000', 'malformed_response'],
      ['7700' + '9000', 'malformed_response'],
    ] as const) {
      const reader = new ReplayCardReader(withResponse('80AE8000', response));
      await reader.waitForCard({ timeoutMs: 1 });
      const read = await readCard(reader, tx);
      const err = await generateCryptogram(reader, read, tx).catch((e: unknown) => e);
      expect((err as CardReadError).code).toBe(code);
    }
  });

  it('bad transaction input is refused before any APDU', async () => {
    const reader = new ReplayCardReader(TRANSCRIPT);
    await reader.waitForCard({ timeoutMs: 1 });
    await expect(readCard(reader, { ...tx, unpredictableNumber: new Uint8Array(3) })).rejects.toMatchObject({
      code: 'bad_input',
    });
    await expect(readCard(reader, { ...tx, amount: -1n })).rejects.toMatchObject({ code: 'bad_input' });
  });
});
