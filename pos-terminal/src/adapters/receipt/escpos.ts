/**
 * A receipt as ESC/POS bytes for an 80 mm (or 58 mm, 32 columns) thermal printer: initialise,
 * code page 858 (for "€"), the merchant centred in bold double size, the 32-column body from
 * `formatReceiptText`, feed, partial cut. Pure: bytes out, no I/O.
 */
import { formatReceiptText, type Receipt } from '@bluetill/protocol';

const ESC = 0x1b;
const GS = 0x1d;
const LF = 0x0a;

export const ESCPOS = {
  init: [ESC, 0x40],
  codePage858: [ESC, 0x74, 19],
  alignCenter: [ESC, 0x61, 1],
  alignLeft: [ESC, 0x61, 0],
  boldOn: [ESC, 0x45, 1],
  boldOff: [ESC, 0x45, 0],
  doubleSize: [GS, 0x21, 0x11],
  normalSize: [GS, 0x21, 0x00],
  feed: (lines: number) => [ESC, 0x64, lines],
  partialCut: [GS, 0x56, 66, 0],
} as const;

/** Code page 858 for the characters a receipt uses; anything else prints as "?". */
const CP858: Readonly<Record<string, number>> = {
  '€': 0xd5,
  '£': 0x9c,
  é: 0x82,
  è: 0x8a,
  à: 0x85,
  ä: 0x84,
  ö: 0x94,
  ü: 0x81,
  Ä: 0x8e,
  Ö: 0x99,
  Ü: 0x9a,
  ß: 0xe1,
  ç: 0x87,
  ñ: 0xa4,
  '¥': 0xbe,
};

export function encodeCp858(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 0x20 && code < 0x7f) out.push(code);
    else if (ch === '\u00a0' || ch === '\u202f')
      out.push(0x20); // Intl spaces
    else out.push(CP858[ch] ?? 0x3f);
  }
  return out;
}

export function receiptToEscPos(r: Receipt, width = 32): Uint8Array {
  const body = formatReceiptText(r, width).split('\n').slice(1); // first line is the merchant, printed large
  const bytes: number[] = [
    ...ESCPOS.init,
    ...ESCPOS.codePage858,
    ...ESCPOS.alignCenter,
    ...ESCPOS.boldOn,
    ...ESCPOS.doubleSize,
    ...encodeCp858(r.merchantName.slice(0, width / 2)),
    LF,
    ...ESCPOS.normalSize,
    ...ESCPOS.boldOff,
    ...ESCPOS.alignLeft,
  ];
  for (const line of body) bytes.push(...encodeCp858(line), LF);
  bytes.push(...ESCPOS.feed(4), ...ESCPOS.partialCut);
  return Uint8Array.from(bytes);
}
