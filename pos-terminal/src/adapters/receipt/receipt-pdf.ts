/**
 * A receipt as a one-page PDF (80 mm wide, Courier, the same 32-column layout as the printer),
 * with the transaction id in the document title.
 */
import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import { formatReceiptText, type Receipt } from '@bluetill/protocol';

const MM = 72 / 25.4;

export async function receiptToPdf(r: Receipt): Promise<Uint8Array> {
  const lines = formatReceiptText(r, 32).split('\n');
  const fontSize = 9;
  const lineHeight = fontSize * 1.35;
  const margin = 5 * MM;
  const doc = await PDFDocument.create();
  doc.setTitle(`Receipt ${r.terminalTxnId}`);
  doc.setSubject(`${r.merchantName}, terminal ${r.terminalId}`);
  doc.setProducer('bluetill pos-terminal');
  doc.setCreator('bluetill pos-terminal');
  doc.setCreationDate(new Date(r.issuedAtMs));
  doc.setModificationDate(new Date(r.issuedAtMs));
  const font = await doc.embedFont(StandardFonts.Courier);
  const bold = await doc.embedFont(StandardFonts.CourierBold);
  const page = doc.addPage([80 * MM, margin * 2 + lineHeight * (lines.length + 1)]);
  let y = page.getHeight() - margin - fontSize;
  lines.forEach((line, i) => {
    const f =
      i === 0 || line.startsWith('TOTAL') || line.startsWith('APPROVED') || line.startsWith('DECLINED')
        ? bold
        : font;
    page.drawText(line.replace(/[\u00a0\u202f]/g, ' '), {
      x: margin,
      y,
      size: fontSize,
      font: f,
      color: rgb(0, 0, 0),
    });
    y -= lineHeight;
  });
  return doc.save({ useObjectStreams: false });
}
