import { FilePrinter } from './receipt-printer.file';
import { TcpPrinter } from './receipt-printer.tcp';
import { PrinterError, type ReceiptPrinter } from './receipt-printer';

/** `file:PATH`, `device:/dev/usb/lp0`, `tcp:HOST[:PORT]` (port 9100 by default), or `none`. */
export function printerFromSpec(spec: string): ReceiptPrinter | null {
  if (spec === 'none') return null;
  const [kind, ...rest] = spec.split(':');
  const arg = rest.join(':');
  if ((kind === 'file' || kind === 'device') && arg) return new FilePrinter(arg, kind);
  if (kind === 'tcp' && arg) {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(arg);
    if (m) return new TcpPrinter(m[1]!.replace(/^\[|\]$/g, ''), m[2] ? Number(m[2]) : 9100);
  }
  throw new PrinterError(
    'bad_spec',
    `printer must be file:PATH, device:PATH, tcp:HOST[:PORT] or none, not "${spec}"`,
  );
}
