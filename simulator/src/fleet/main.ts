/**
 * bluetill-fleet (`npm run fleet -- …`): simulated phones pay at one till over the virtual radio;
 * prints a summary (approved, declined by reason, failed, latency p50/p90/p99, payments/s, and
 * what the shopper waits on step by step). Progress (arrived / paid / failed) on stderr each second.
 *
 *   npm run fleet -- --phones 20 --wrong-pin-every 5 [--interval 30] [--card-profile typical] [--json]
 *   npm run fleet -- --rate 5 --duration 10 [--seed N]   open loop: Poisson arrivals, each phone pays once
 *     --rate R --phones N     open loop with N arrivals instead of a duration
 *     --human-shopper         shoppers take a human's time to type the PIN and read the basket
 *     --log-dir DIR           one log per phone (its steps with their times, its outcome)
 *   npm run fleet -- --phones 10 --harsh-radio      (or any of the three below)
 *     --connect-fail-rate R   connections fail to be established (0x3E) with probability R (0..1)
 *     --rssi-unavailable      advertising reports carry RSSI 127 (not available)
 *     --acl-buffer LENxN      every controller offers N ACL buffers of LEN bytes (e.g. 192x1)
 *     --radio-seed N          replay the connection-failure draws of an earlier run
 *
 * Exit codes: 0 every phone ended as expected (approved, or declined pin_incorrect when its PIN
 * was wrong; with connections set to fail, also "could not connect, nothing charged"), 1 some did
 * not, 2 wrong usage.
 */
import { parseArgs } from 'node:util';
import { formatSummary } from './fleet-summary';
import { HARSH_RADIO, runFleet, type FleetRadio } from './run-fleet';
import { HUMAN_SHOPPER } from '../phone/auto-prompt';
import { CARD_PROFILES, isCardProfileName } from '../card/card-timing';

const USAGE =
  'usage: bluetill-fleet [--phones N] [--wrong-pin-every K] [--interval MS] [--card-profile instant|fast|typical|slow] [--json]\n' +
  '                      [--rate R (--duration S | --phones N) [--seed N]] [--human-shopper] [--log-dir DIR]\n' +
  '                      [--harsh-radio] [--connect-fail-rate R] [--rssi-unavailable] [--acl-buffer LENxN] [--radio-seed N]';

function usage(message: string): never {
  process.stderr.write(`bluetill-fleet: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function radioOf(v: {
  'harsh-radio'?: boolean;
  'connect-fail-rate'?: string;
  'rssi-unavailable'?: boolean;
  'acl-buffer'?: string;
  'radio-seed'?: string;
}): FleetRadio | undefined {
  let r: FleetRadio = v['harsh-radio'] ? { ...HARSH_RADIO } : {};
  if (v['connect-fail-rate'] !== undefined) {
    const rate = Number(v['connect-fail-rate']);
    if (v['connect-fail-rate'].trim() === '' || !(rate >= 0 && rate <= 1))
      usage(`--connect-fail-rate must be a number 0..1, got "${v['connect-fail-rate']}"`);
    r = { ...r, connectFailRate: rate };
  }
  if (v['rssi-unavailable']) r = { ...r, rssiUnavailable: true };
  if (v['acl-buffer'] !== undefined) {
    const m = /^(\d+)x(\d+)$/.exec(v['acl-buffer']);
    const length = Number(m?.[1]);
    const count = Number(m?.[2]);
    if (!m || length < 27 || length > 251 || count < 1 || count > 255)
      usage(`--acl-buffer must be LENxN with LEN 27..251 and N 1..255, got "${v['acl-buffer']}"`);
    r = { ...r, aclBuffer: { length, count } };
  }
  if (v['radio-seed'] !== undefined) {
    const seed = Number(v['radio-seed']);
    if (!/^\d+$/.test(v['radio-seed']) || !Number.isSafeInteger(seed))
      usage(`--radio-seed must be a whole number, got "${v['radio-seed']}"`);
    r = { ...r, seed };
  }
  return Object.keys(r).length ? r : undefined;
}

function positive(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    usage(`--${name} must be a number above 0, got "${value}"`);
  return n;
}

function count(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    process.stderr.write(
      `bluetill-fleet: --${name} must be a whole number >= ${min}, got "${value}"\n${USAGE}\n`,
    );
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        phones: { type: 'string' },
        'wrong-pin-every': { type: 'string' },
        interval: { type: 'string' },
        'card-profile': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        'harsh-radio': { type: 'boolean' },
        'connect-fail-rate': { type: 'string' },
        'rssi-unavailable': { type: 'boolean' },
        'acl-buffer': { type: 'string' },
        'radio-seed': { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        'human-shopper': { type: 'boolean' },
        'log-dir': { type: 'string' },
      },
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
  const rate = positive('rate', values.rate);
  const durationS = positive('duration', values.duration);
  if (rate === undefined && (durationS !== undefined || values.seed !== undefined))
    usage('--duration and --seed go with --rate (open loop)');
  if (rate !== undefined && durationS !== undefined && values.phones !== undefined)
    usage('open loop: give --duration or --phones, not both');
  if (values.seed !== undefined && !/^\d+$/.test(values.seed))
    usage(`--seed must be a whole number, got "${values.seed}"`);
  const seed = values.seed !== undefined ? Number(values.seed) : undefined;
  const phones =
    rate !== undefined && values.phones === undefined ? undefined : count('phones', values.phones, 10, 1);
  const open =
    rate !== undefined
      ? {
          arrivalsPerSecond: rate,
          ...(durationS !== undefined || phones === undefined ? { durationS: durationS ?? 10 } : {}),
          ...(seed !== undefined ? { seed } : {}),
        }
      : {};
  const wrongPinEvery = count('wrong-pin-every', values['wrong-pin-every'], 0, 0);
  const connectionIntervalMs = count('interval', values.interval, 30, 8);
  const json = values.json === true;
  const cardProfile = values['card-profile'] ?? 'typical';
  if (!isCardProfileName(cardProfile))
    usage(`--card-profile must be one of ${CARD_PROFILES.join(', ')}, got "${cardProfile}"`);
  const radio = radioOf(values);
  const summary = await runFleet({
    ...(phones !== undefined ? { phones } : {}),
    ...open,
    wrongPinEvery,
    ...(values['human-shopper'] ? { shopper: HUMAN_SHOPPER } : {}),
    ...(values['log-dir'] !== undefined ? { logDir: values['log-dir'] } : {}),
    connectionIntervalMs,
    cardProfile,
    ...(radio ? { radio } : {}),
    onProgress: (l) => process.stderr.write(`fleet: ${l}\n`),
  });
  process.stdout.write(json ? `${JSON.stringify(summary)}\n` : `${formatSummary(summary)}\n`);
  process.exit(summary.unexpected === 0 ? 0 : 1);
}

main().catch((e: unknown) => {
  process.stderr.write(`bluetill-fleet: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
