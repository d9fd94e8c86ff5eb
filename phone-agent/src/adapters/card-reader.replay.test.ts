import { describe, expect, it } from 'vitest';
import { CardReaderError } from '../ports/card-reader';
import { ReplayCardReader, TranscriptError } from './card-reader.replay';

const T = `
# two exchanges
ATR 3B80800101
=> 00A404000E325041592E5359532E444446303100
<= 6A82
=> 80 CA 9F 36 00
<= 9F3602000A 9000
`;
const h = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

describe('ReplayCardReader', () => {
  it('plays back in order (spaces and case ignored) and closes cleanly', async () => {
    const r = new ReplayCardReader(T);
    expect(Buffer.from((await r.waitForCard({ timeoutMs: 1 })).atr).toString('hex')).toBe('3b80800101');
    expect(Buffer.from(await r.transmit(h('00a404000e325041592e5359532e444446303100'))).toString('hex')).toBe(
      '6a82',
    );
    expect(Buffer.from(await r.transmit(h('80CA9F3600'))).toString('hex')).toBe('9f3602000a9000');
    expect(r.remaining).toBe(0);
    await expect(r.close()).resolves.toBeUndefined();
  });
  it('rejects an unexpected command without echoing its data', async () => {
    const r = new ReplayCardReader(T);
    await r.waitForCard({ timeoutMs: 1 });
    const err = await r.transmit(h('00B2010C00')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CardReaderError);
    expect((err as CardReaderError).code).toBe('unexpected_command');
  });
  it('rejects commands past the end and leftovers at close', async () => {
    const r = new ReplayCardReader('ATR 3B00\n=> 00\n<= 9000\n');
    await r.waitForCard({ timeoutMs: 1 });
    await expect(r.close()).rejects.toMatchObject({ code: 'unexpected_command' });
    await r.transmit(h('00'));
    await expect(r.transmit(h('00'))).rejects.toMatchObject({ code: 'unexpected_command' });
  });
  it('REMOVED makes the exchange fail with card_removed; no ATR means no_card', async () => {
    const r = new ReplayCardReader('ATR 3B00\n=> 00\n<= REMOVED\n');
    await expect(new ReplayCardReader('=> 00\n<= 9000').waitForCard({ timeoutMs: 1 })).rejects.toMatchObject({
      code: 'no_card',
    });
    await r.waitForCard({ timeoutMs: 1 });
    await expect(r.transmit(h('00'))).rejects.toMatchObject({ code: 'card_removed' });
  });
  it('a transcript that does not parse is a TranscriptError', () => {
    expect(() => new ReplayCardReader('=> 0G')).toThrow(TranscriptError);
    expect(() => new ReplayCardReader('hello')).toThrow(TranscriptError);
    expect(() => new ReplayCardReader('=> 0G')).toThrow(expect.objectContaining({ code: 'not_hex' }));
    expect(() => new ReplayCardReader('hello')).toThrow(expect.objectContaining({ code: 'bad_line' }));
  });
});
