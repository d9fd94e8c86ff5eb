/**
 * The ATR a PC/SC reader synthesizes for an ISO/IEC 14443-4 (contactless, T=CL) card
 * (PC/SC part 3, "ATR for contactless smart cards"):
 *
 *   3B | 8n | 80 | 01 | historical bytes (n ≤ 15) | TCK
 *   TS   T0   TD1  TD2                               XOR of T0 … last historical byte
 *
 * T0 = 8n: TD1 follows, n historical bytes; TD1 = 80: TD2 follows (T=0 nibble);
 * TD2 = 01: T=1, nothing follows. Because a protocol other than T=0 is indicated, TCK is
 * mandatory (ISO/IEC 7816-3 §8.2.5).
 *
 * @example
 *   contactlessAtr(Uint8Array.of(0x80)) // 3B 81 80 01 80 80 (MIFARE DESFire EV1)
 */
export function contactlessAtr(historicalBytes: Uint8Array): Uint8Array {
  if (historicalBytes.length > 15) {
    throw new RangeError(`at most 15 historical bytes fit in an ATR, got ${historicalBytes.length}`);
  }
  const atr = new Uint8Array(4 + historicalBytes.length + 1);
  atr.set([0x3b, 0x80 | historicalBytes.length, 0x80, 0x01], 0);
  atr.set(historicalBytes, 4);
  atr[atr.length - 1] = atrCheckByte(atr.subarray(1, atr.length - 1));
  return atr;
}

/** TCK: the XOR of every byte from T0 up to the byte before TCK (ISO/IEC 7816-3). */
export function atrCheckByte(fromT0: Uint8Array): number {
  let tck = 0;
  for (const b of fromT0) tck ^= b;
  return tck;
}
