import { describe, expect, it } from 'vitest';
import { atrCheckByte, contactlessAtr } from './contactless-atr';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('contactlessAtr', () => {
  // Published ATRs of ISO 14443-4 cards as PC/SC readers report them (smartcard_list.txt).
  it.each([
    ['80', '3B 81 80 01 80 80'], // MIFARE DESFire EV1
    ['00 31 C1 73 C8 40 00 00 90 00', '3B 8A 80 01 00 31 C1 73 C8 40 00 00 90 00 90'],
    ['', '3B 80 80 01 01'],
  ])('historical bytes %s give %s', (historical, expected) => {
    expect(contactlessAtr(hex(historical))).toEqual(hex(expected));
  });

  it('TCK makes the XOR of T0 … TCK zero', () => {
    const atr = contactlessAtr(hex('01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F'));
    expect(atr[1]).toBe(0x8f);
    expect(atrCheckByte(atr.subarray(1))).toBe(0);
  });

  it('rejects more than 15 historical bytes', () => {
    expect(() => contactlessAtr(new Uint8Array(16))).toThrow(RangeError);
  });
});
