import { appendFile } from 'node:fs/promises';
import { PrinterError, type ReceiptPrinter } from './receipt-printer';

/** Appends each receipt to a file or writes it to a device node (both are `open(…, 'a')`). */
export class FilePrinter implements ReceiptPrinter {
  readonly sink: string;

  constructor(
    private readonly path: string,
    kind: 'file' | 'device' = 'file',
  ) {
    this.sink = `${kind}:${path}`;
  }

  async print(bytes: Uint8Array): Promise<void> {
    try {
      await appendFile(this.path, bytes);
    } catch (cause) {
      throw new PrinterError(
        'write_failed',
        `printer ${this.sink}: ${(cause as NodeJS.ErrnoException).code ?? 'write failed'}`,
        { cause },
      );
    }
  }
}
