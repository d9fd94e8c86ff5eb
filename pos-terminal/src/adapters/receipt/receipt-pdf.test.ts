import { inflateSync } from 'node:zlib';
import { PDFDocument, PDFName, type PDFArray, type PDFRawStream } from 'pdf-lib';
import { describe, expect, it } from 'vitest';
import { receiptToPdf } from './receipt-pdf';
import { SMALL_RECEIPT } from './receipt.fixture';

/** The text a page draws: pdf-lib writes each line as a hex string of WinAnsi codes. */
async function pageText(bytes: Uint8Array): Promise<string[]> {
  const doc = await PDFDocument.load(bytes);
  const page = doc.getPage(0);
  const contents = page.node.get(PDFName.of('Contents'));
  const refs = contents && 'asArray' in contents ? (contents as PDFArray).asArray() : [contents];
  const streams = refs.map((r) => doc.context.lookup(r!) as PDFRawStream);
  const ops = streams
    .map((s) =>
      (s.dict.get(PDFName.of('Filter')) ? inflateSync(s.contents) : Buffer.from(s.contents)).toString(
        'latin1',
      ),
    )
    .join('\n');
  return [...ops.matchAll(/<([0-9A-Fa-f]*)>\s*Tj/g)].map((m) => Buffer.from(m[1]!, 'hex').toString('latin1'));
}

describe('receiptToPdf', () => {
  it('is a one-page PDF, 80 mm wide, titled with the transaction, with the receipt lines as text', async () => {
    const bytes = await receiptToPdf(SMALL_RECEIPT);
    expect(Buffer.from(bytes.subarray(0, 5)).toString()).toBe('%PDF-');
    const doc = await PDFDocument.load(bytes);
    expect(doc.getPageCount()).toBe(1);
    expect(doc.getTitle()).toBe('Receipt T-0001-abc-1');
    expect(doc.getPage(0).getWidth()).toBeCloseTo(226.77, 1);
    const lines = await pageText(bytes);
    expect(lines[0]!.trim()).toBe('Corner Shop');
    expect(lines).toContain('Card            679999******0019');
    expect(lines.find((l) => l.startsWith('TOTAL'))).toMatch(/\x807\.00$/); // WinAnsi 0x80 is "€"
    expect(lines.find((l) => l.startsWith('APPROVED'))).toContain('code A1B2C3');
  });
});
