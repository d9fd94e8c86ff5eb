/**
 * `pos-terminal serve`: runs a till (real adapters) and serves the cashier UI on loopback.
 *
 *   BLUETILL_TILL_KEY=… npx tsx pos-terminal/src/server/cli.ts --terminal .data/demo/terminal-T-0001.json \
 *     --backend localhost:50051[,HOST:PORT…] --ble none --cashiers cashiers.json [--port 8080] [--host 127.0.0.1] [--data .data/till] \
 *     [--printer file:PATH|device:/dev/usb/lp0|tcp:HOST:9100|none] [--counter "Counter 1"] [--currency EUR] [--time-zone ZONE]
 *     [--tls-dir DIR (default: tls/ beside the terminal file)] [--insecure (no TLS to the backend: local debugging only)]
 *     [--token-file PATH (default: DATA/api-token)] [--tls-cert PEM --tls-key PEM (HTTPS/WSS; needed for a non-loopback --host)]
 *     [--offline on|off (default on)] [--trust FILE (default: trust.json beside the terminal file)]
 *
 * Offline mode (on by default): while the card company cannot be reached, sales within the limits
 * the card company sends for this till (floor limit, exposure, per-card daily limits, block list;
 * signed, fetched while online) are approved offline and forwarded later; the trust file gives
 * the card company root those parameters are checked under and the EMV CA keys cards are checked
 * under. `--offline off`: no payments while the card company is unreachable.
 *
 * Cashiers sign in on the page (cashiers file: cashiers-cli.ts); scripts use the API token in the
 * token file (0600, created on first start). Prints `serving <url>` when ready; stops cleanly on SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { composeTill } from '../compose-till';
import { fromUserDir } from './user-dir';
import { startTillServer, TillServerError } from './till-server';
import { CashierAuth } from '../host/cashier-auth';
import { readCashiersFile } from '../adapters/auth/cashiers-file';
import { loadOrCreateApiToken } from '../adapters/auth/api-token';
import { tillKeyFromEnv } from '../adapters/journal/journal-key';
import { readOfflineTrust } from '../adapters/trust/trust-file';
import { isTimeZone, machineTimeZone } from '../common/business-day';

const USAGE =
  'usage: serve --terminal FILE --backend HOST:PORT[,HOST:PORT…] --ble none|uart:PATH|socket:N --cashiers FILE [--settlement HOST:PORT[,HOST:PORT…]] [--host 127.0.0.1] [--port 8080] [--data DIR] [--printer SPEC] [--counter NAME] [--currency EUR] [--time-zone Europe/Berlin] [--tls-dir DIR] [--insecure] [--token-file PATH] [--tls-cert PEM --tls-key PEM] [--offline on|off] [--trust FILE]';

const isLoopback = (h: string) =>
  h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);

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
      'time-zone': { type: 'string' },
      currency: { type: 'string', default: 'EUR' },
      'tls-dir': { type: 'string' },
      insecure: { type: 'boolean', default: false },
      cashiers: { type: 'string' },
      'token-file': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      offline: { type: 'string', default: 'on' },
      trust: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || !values.terminal || !values.backend || !values.ble || !values.cashiers) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be 0..65535');
  // Everything is checked before anything is opened or written.
  if (!values['tls-cert'] !== !values['tls-key'])
    throw new Error('give both --tls-cert and --tls-key, or neither');
  const tls = values['tls-cert']
    ? {
        cert: readFileSync(fromUserDir(values['tls-cert'])),
        key: readFileSync(fromUserDir(values['tls-key']!)),
      }
    : undefined;
  if (!isLoopback(values.host) && !tls)
    throw new TillServerError(
      'insecure_host',
      `refusing to serve on ${values.host} without TLS: give --tls-cert and --tls-key, or keep to loopback`,
    );
  const timeZone = values['time-zone'] ?? machineTimeZone();
  if (!isTimeZone(timeZone))
    throw new Error(`--time-zone: unknown time zone "${timeZone}" (an IANA name such as Europe/Berlin)`);
  if (values.offline !== 'on' && values.offline !== 'off')
    throw new Error(`--offline must be on or off, not "${values.offline}"`);
  if (values.offline === 'off' && values.trust)
    throw new Error('--trust is for offline mode: drop it with --offline off');
  const offline =
    values.offline === 'on'
      ? {
          ...readOfflineTrust(fromUserDir(values.trust ?? join(dirname(values.terminal), 'trust.json'))),
          timeZone,
        }
      : undefined;
  const cashiers = readCashiersFile(fromUserDir(values.cashiers));
  const tillKey = tillKeyFromEnv();
  const tokenFile = fromUserDir(values['token-file'] ?? join(values.data, 'api-token'));
  const composed = await composeTill({
    tillKey,
    terminalFile: fromUserDir(values.terminal),
    backend: values.backend,
    ...(values.settlement ? { settlement: values.settlement } : {}),
    dataDir: fromUserDir(values.data),
    ble: values.ble,
    ...(values.printer ? { printer: values.printer } : {}),
    counterName: values.counter,
    currency: values.currency,
    ...(values['tls-dir'] ? { tlsDir: fromUserDir(values['tls-dir']) } : {}),
    insecure: values.insecure,
    ...(offline ? { offline } : {}),
  });
  console.error(
    offline
      ? 'serve: offline mode on: sales within the card company’s offline limits are approved while it is unreachable (--offline off to turn it off)'
      : 'serve: offline mode off: no payments while the card company is unreachable',
  );
  if (values.insecure)
    console.error(
      'serve: WARNING --insecure: the backend connection has no TLS and no client certificate (local debugging only)',
    );
  const auth = new CashierAuth({ cashiers, apiToken: loadOrCreateApiToken(tokenFile) });
  const server = await startTillServer({
    till: composed.till,
    catalog: composed.catalog,
    receipts: composed.receipts,
    printer: composed.printer,
    pdfDir: composed.pdfDir,
    host: values.host,
    port,
    auth,
    timeZone,
    ...(tls ? { tls } : {}),
  });
  console.log(`serving ${server.url}`);
  console.error(
    `serve: scripts: the API token is in ${tokenFile} (send it as "authorization: Bearer <token>")`,
  );
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
