/**
 * `pos-terminal serve`: runs a till (real adapters) and serves the cashier UI on loopback.
 *
 *   npx tsx pos-terminal/src/server/cli.ts --terminal .data/demo/terminal-T-0001.json \
 *     --backend localhost:50051 --ble none [--port 8080] [--host 127.0.0.1] [--data .data/till] \
 *     [--printer file:PATH|device:/dev/usb/lp0|tcp:HOST:9100|none] [--counter "Counter 1"] [--currency EUR]
 *     [--tls-dir DIR (default: tls/ beside the terminal file)] [--insecure (no TLS: local debugging only)]
 *
 * Prints one line `serving <url>` when ready; stops cleanly on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { composeTill } from './compose-till';
import { startTillServer } from './till-server';

const USAGE = 'usage: serve --terminal FILE --backend HOST:PORT --ble none|uart:PATH|socket:N [--settlement HOST:PORT] [--host 127.0.0.1] [--port 8080] [--data DIR] [--printer SPEC] [--counter NAME] [--currency EUR] [--tls-dir DIR] [--insecure]';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      terminal: { type: 'string' },
      backend: { type: 'string' },
      settlement: { type: 'string' },
      ble: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '8080' },
      data: { type: 'string', default: '.data/till' },
      printer: { type: 'string' },
      counter: { type: 'string', default: 'Counter 1' },
      currency: { type: 'string', default: 'EUR' },
      'tls-dir': { type: 'string' },
      insecure: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || !values.terminal || !values.backend || !values.ble) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be 0..65535');
  const composed = await composeTill({
    terminalFile: resolve(values.terminal), backend: values.backend, ...(values.settlement ? { settlement: values.settlement } : {}),
    dataDir: resolve(values.data), ble: values.ble, ...(values.printer ? { printer: values.printer } : {}),
    counterName: values.counter, currency: values.currency,
    ...(values['tls-dir'] ? { tlsDir: resolve(values['tls-dir']) } : {}), insecure: values.insecure,
  });
  if (values.insecure) console.error('serve: WARNING --insecure: the backend connection has no TLS and no client certificate (local debugging only)');
  const server = await startTillServer({ till: composed.till, catalog: composed.catalog, receipts: composed.receipts, printer: composed.printer, pdfDir: composed.pdfDir, host: values.host, port });
  console.log(`serving ${server.url}`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.close();
  await composed.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`serve: ${(error as Error).message}`);
    process.exit(1);
  },
);
