/**
 * Where ESC/POS bytes go. `file:` appends to a file (tests, or a spool), `device:` writes to a
 * printer device node (/dev/usb/lp0), `tcp:` sends to a network printer (raw port 9100).
 *
 * @example
 *   const printer = printerFromSpec('tcp:10.0.0.9:9100');
 *   await printer.print(receiptToEscPos(receipt));
 */
export interface ReceiptPrinter {
  /** e.g. "file:/var/lib/bluetill/receipts.escpos" */
  readonly sink: string;
  print(bytes: Uint8Array): Promise<void>;
}

export class PrinterError extends Error {
  constructor(
    readonly code: 'unreachable' | 'timeout' | 'write_failed' | 'bad_spec',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PrinterError';
  }
}
