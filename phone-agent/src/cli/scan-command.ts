/** `bluetill-phone scan`: the bluetill tills in range, strongest first, after the timeout. */
import type { Command } from 'commander';
import { NobleCentral } from '../adapters/ble-central.noble';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { HCI_HELP, parseCount, parseHci } from './hci-option';
import { bleUnavailableMessage } from './payment-session';

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description('list the tills nearby (counter name, signal strength), then stop')
    .option('--timeout <ms>', 'how long to listen', '5000')
    .option('--hci <transport>', HCI_HELP, 'socket:0')
    .option('--json', 'print one JSON object: { tills: [{ counterName, rssi, id }] }')
    .action(async (o: { timeout: string; hci: string; json?: boolean }) => {
      const timeoutMs = parseCount('--timeout', o.timeout);
      const central = new NobleCentral({ hci: parseHci(o.hci) });
      try {
        if (!o.json) process.stderr.write(`Listening for tills for ${timeoutMs} ms...\n`);
        const found = await central.scan({ timeoutMs }).catch((e: unknown) => {
          throw new CliError('ble_unavailable', bleUnavailableMessage(e as Error), EXIT.error, { cause: e });
        });
        const tills = [...found].sort((a, b) => b.rssi - a.rssi).map((a) => ({ counterName: a.counterName, rssi: a.rssi, id: a.id }));
        if (o.json) process.stdout.write(`${JSON.stringify({ tills })}\n`);
        else if (tills.length === 0) process.stdout.write('No till found.\n');
        else for (const t of tills) process.stdout.write(`${t.counterName.padEnd(24)} ${String(t.rssi).padStart(4)} dBm  ${t.id}\n`);
      } finally {
        await central.close().catch(() => undefined);
      }
      process.exit(EXIT.ok);
    });
}
