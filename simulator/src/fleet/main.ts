/**
 * bluetill-fleet (`npm run fleet -- …`): N simulated phones pay at one till over the virtual
 * radio; prints a summary (approved, declined by reason, failed, latency p50/p90/p99, payments/s).
 *
 *   npm run fleet -- --phones 20 --wrong-pin-every 5 [--interval 30] [--card-profile typical] [--json]
 *
 * Exit codes: 0 every phone ended as expected (approved, or declined pin_incorrect when its PIN
 * was wrong), 1 some did not, 2 wrong usage.
 */
import { parseArgs } from 'node:util';
import { formatSummary } from './fleet-summary';
import { runFleet } from './run-fleet';
import { CARD_PROFILES, isCardProfileName } from '../card/card-timing';

const USAGE = 'usage: bluetill-fleet [--phones N] [--wrong-pin-every K] [--interval MS] [--card-profile instant|fast|typical|slow] [--json]';

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(`bluetill-fleet: --${name} must be a whole number >= ${min}, got "${value}"\n${USAGE}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: { phones: { type: 'string' }, 'wrong-pin-every': { type: 'string' }, interval: { type: 'string' }, 'card-profile': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`bluetill-fleet: ${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const phones = count('phones', values.phones, 10, 1);
  const wrongPinEvery = count('wrong-pin-every', values['wrong-pin-every'], 0, 0);
  const connectionIntervalMs = count('interval', values.interval, 30, 8);
  const json = values.json === true;
  const cardProfile = values['card-profile'] ?? 'typical';
  if (!isCardProfileName(cardProfile)) {
    process.stderr.write(`bluetill-fleet: --card-profile must be one of ${CARD_PROFILES.join(', ')}, got "${cardProfile}"\n${USAGE}\n`);
    process.exit(2);
  }
  const summary = await runFleet({ phones, wrongPinEvery, connectionIntervalMs, cardProfile, onProgress: (l) => process.stderr.write(`fleet: ${l}\n`) });
  process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
  process.exit(summary.unexpected === 0 ? 0 : 1);
}

main().catch((e: unknown) => {
  process.stderr.write(`bluetill-fleet: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
