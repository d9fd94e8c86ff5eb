import { connect } from 'node:net';
import { PrinterError, type ReceiptPrinter } from './receipt-printer';

/** A network receipt printer on its raw port (9100): one connection per receipt. */
export class TcpPrinter implements ReceiptPrinter {
  readonly sink: string;

  constructor(
    private readonly host: string,
    private readonly port = 9100,
    private readonly timeoutMs = 5_000,
  ) {
    this.sink = `tcp:${host}:${port}`;
  }

  print(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      socket.setTimeout(this.timeoutMs, () =>
        socket.destroy(new PrinterError('timeout', `printer ${this.sink}: no answer in time`)),
      );
      socket.once('error', (cause) =>
        reject(
          cause instanceof PrinterError
            ? cause
            : new PrinterError(
                'unreachable',
                `printer ${this.sink}: ${(cause as NodeJS.ErrnoException).code ?? 'unreachable'}`,
                { cause },
              ),
        ),
      );
      socket.once('connect', () => socket.end(bytes, () => resolve()));
    });
  }
}
