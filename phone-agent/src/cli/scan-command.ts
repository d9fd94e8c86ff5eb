/** `bluetill-phone scan`: the bluetill tills in range, strongest first (signal not available last), after the timeout. */
import type { Command } from 'commander';
import { NobleCentral } from '../adapters/ble-central.noble';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { HCI_HELP, parseCount, parseHci } from './hci-option';
import { bleUnavailableMessage } from './till-unreachable';
import { bySignal, rssiAvailable, signalText } from '../core/signal';

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('list the tills nearby (counter name, signal strength), then stop')
    .option('--timeout <ms>', 'how long to listen', '5000')
    .option('--hci <transport>', HCI_HELP, 'socket:0')
    .option(
      '--json',
      'print one JSON object: { tills: [{ counterName, rssi, id }] } (rssi null: not available)',
    )
    .action(async (o: { timeout: string; hci: string; json?: boolean }) => {
      const timeoutMs = parseCount('--timeout', o.timeout);
      const central = new NobleCentral({ hci: parseHci(o.hci) });
      try {
        if (!o.json) process.stderr.write(`Listening for tills for ${timeoutMs} ms...\n`);
        const found = await central.scan({ timeoutMs }).catch((e: unknown) => {
          throw new CliError('ble_unavailable', bleUnavailableMessage(e as Error), EXIT.error, { cause: e });
        });
        const sorted = [...found].sort(bySignal);
        const tills = sorted.map((a) => ({
          counterName: a.counterName,
          rssi: rssiAvailable(a.rssi) ? a.rssi : null,
          id: a.id,
        }));
        if (o.json) process.stdout.write(`${JSON.stringify({ tills })}\n`);
        else if (sorted.length === 0) process.stdout.write('No till found.\n');
        else
          for (const t of sorted)
            process.stdout.write(`${t.counterName.padEnd(24)} ${signalText(t.rssi).padStart(10)}  ${t.id}\n`);
      } finally {
        await central.close().catch(() => undefined);
      }
      process.exit(EXIT.ok);
    });
}
