import { describe, expect, it } from 'vitest';
import { encodeCp858, receiptToEscPos } from './escpos';
import { SMALL_RECEIPT } from './receipt.fixture';

const ascii = (s: string) => [...Buffer.from(s, 'ascii')];

describe('receiptToEscPos', () => {
  it('is byte-exact for a small receipt', () => {
    const LF = 0x0a;
    const expected = [
      0x1b,
      0x40, // ESC @ initialise
      0x1b,
      0x74,
      0x13, // ESC t 19: code page 858
      0x1b,
      0x61,
      0x01,
      0x1b,
      0x45,
      0x01,
      0x1d,
      0x21,
      0x11, // centre, bold, double size
      ...ascii('Corner Shop'),
      LF,
      0x1d,
      0x21,
      0x00,
      0x1b,
      0x45,
      0x00,
      0x1b,
      0x61,
      0x00, // normal size, bold off, left
      ...ascii('Terminal T-0001'),
      LF,
      ...ascii('2026-11-24 09:30:00 UTC'),
      LF,
      ...ascii('-'.repeat(32)),
      LF,
      ...ascii('2 x Green tea'),
      ...Array(14).fill(0x20),
      0xd5,
      ...ascii('7.00'),
      LF,
      ...ascii('-'.repeat(32)),
      LF,
      ...ascii('TOTAL'),
      ...Array(22).fill(0x20),
      0xd5,
      ...ascii('7.00'),
      LF,
      ...ascii('Card'),
      ...Array(12).fill(0x20),
      ...ascii('679999******0019'),
      LF,
      ...ascii('APPROVED'),
      ...Array(13).fill(0x20),
      ...ascii('code A1B2C3'),
      LF,
      ...ascii('Txn T-0001-abc-1'),
      LF,
      0x1b,
      0x64,
      0x04, // ESC d 4: feed
      0x1d,
      0x56,
      0x42,
      0x00, // GS V 66 0: partial cut
    ];
    expect([...receiptToEscPos(SMALL_RECEIPT)]).toEqual(expected);
  });

  it('prints "€" in code page 858 and unknown characters as "?"', () => {
    expect(encodeCp858('€1 ü ☃')).toEqual([0xd5, 0x31, 0x20, 0x81, 0x20, 0x3f]);
  });

  it('shows a declined receipt with its reason and never more than the masked PAN', () => {
    const bytes = Buffer.from(
      receiptToEscPos({
        ...SMALL_RECEIPT,
        result: 'declined',
        approvalCode: '',
        declineReason: 'insufficient_funds',
      }),
    ).toString('latin1');
    expect(bytes).toContain('DECLINED');
    expect(bytes).toContain('insufficient_funds');
    expect(bytes).not.toMatch(/\d{12,}/);
  });
});
