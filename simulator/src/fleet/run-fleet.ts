/**
 * A fleet of simulated phones, each with its own virtual card and its own controller on the
 * virtual radio (real noble stacks), paying at one till (real bleno) all at once, against the
 * seeded backend. Every K-th phone types a wrong PIN.
 *
 * @example
 *   const summary = await runFleet({ phones: 20, wrongPinEvery: 5 });
 *   // { phones: 20, approved: 16, declined: { pin_incorrect: 4 }, failed: 0, latencyMs: { p50, p90, p99 }, … }
 */
import { fleetCards } from '@bluetill/backend';
import { VirtualBle } from '../link/virtual-ble';
import { startWorld } from '../world';
import { summarize, type FleetPhoneResult, type FleetSummary } from './fleet-summary';
import type { CardProfileName } from '../card/card-timing';

/**
 * Radio conditions real controllers bring and the default radio does not (see the radio README's
 * shaping): connections that fail to be established at a rate (0x3E), RSSI not available (127),
 * small ACL buffers on every controller (till and phones).
 */
export interface FleetRadio {
  /** Probability (0..1) a connection attempt fails with 0x3E; the phone tries 3 times. */
  readonly connectFailRate?: number;
  /** Advertising reports carry RSSI 127 ("not available"). */
  readonly rssiUnavailable?: boolean;
  /** LE ACL buffers of every controller, e.g. { length: 192, count: 1 }. */
  readonly aclBuffer?: { readonly length: number; readonly count: number };
  /** Seed of the radio's connection-failure draws (default: a fresh one, printed with the summary). */
  readonly seed?: number;
}

/** `--harsh-radio`: all of them at once. */
export const HARSH_RADIO: FleetRadio = { connectFailRate: 0.2, rssiUnavailable: true, aclBuffer: { length: 192, count: 1 } };

export interface FleetOptions {
  readonly phones: number;
  /** Every K-th phone (K, 2K, …) types a wrong PIN; 0 = none. */
  readonly wrongPinEvery?: number;
  /** BLE connection interval of the phones' links, ms (default 30). */
  readonly connectionIntervalMs?: number;
  /** Radio conditions (default: none, the kind radio). */
  readonly radio?: FleetRadio;
  /** Progress lines for a watching tester. */
  readonly onProgress?: (line: string) => void;
  /** How long the phones' cards take (card-timing.ts); default `typical`, as real cards. */
  readonly cardProfile?: CardProfileName;
}

/** A wrong PIN that is not the card's (fleet PINs are 1001 …). */
const WRONG_PIN = '0000';

export async function runFleet(o: FleetOptions): Promise<FleetSummary> {
  if (!Number.isSafeInteger(o.phones) || o.phones < 1) throw new RangeError('phones must be at least 1');
  const every = o.wrongPinEvery ?? 0;
  const say = o.onProgress ?? (() => undefined);
  say(`starting the radio, the backend and the till for ${o.phones} phones`);
  const r = o.radio ?? {};
  const acl = r.aclBuffer ? { aclBufferLength: r.aclBuffer.length, aclBuffers: r.aclBuffer.count } : undefined;
  const seed = r.seed ?? Math.floor(Math.random() * 0x7fffffff);
  if (o.radio) say(`radio: ${describeRadio(r)} (seed ${seed})`);
  const ble = await VirtualBle.start({
    seed,
    phoneShaping: {
      connectionIntervalMs: o.connectionIntervalMs ?? 30,
      ...(r.connectFailRate !== undefined ? { connectFailRate: r.connectFailRate } : {}),
      ...(r.rssiUnavailable !== undefined ? { rssiUnavailable: r.rssiUnavailable } : {}),
    },
    ...(acl ? { tillController: acl, phoneController: acl } : {}),
  });
  try {
    const world = await startWorld({ radio: ble, fleetCards: o.phones, limits: { sessionTimeoutMs: 300_000 }, phonesInOwnProcess: true, cardProfile: o.cardProfile ?? 'typical' });
    try {
      const cards = fleetCards(o.phones);
      const plan = cards.map((c, i) => ({ card: c, wrongPin: every > 0 && (i + 1) % every === 0 }));
      for (const [i, p] of plan.entries()) if (!p.wrongPin) world.ringUp([{ sku: `gum-${i + 1}`, name: 'Gum', quantity: 1, unitPriceMinor: 50 + i }]);
      say(`${plan.length} phones paying (${plan.filter((p) => p.wrongPin).length} with a wrong PIN)`);
      const t0 = performance.now();
      const results = await Promise.all(
        plan.map(async ({ card, wrongPin }): Promise<FleetPhoneResult> => {
          const started = performance.now();
          try {
            const run = await world.phonePays(card.id, wrongPin ? WRONG_PIN : card.pin);
            return { cardId: card.id, wrongPin, outcome: run.outcome, latencyMs: run.connectToReceiptMs ?? run.ms };
          } catch (e) {
            return { cardId: card.id, wrongPin, outcome: { kind: 'error', message: (e as Error).message }, latencyMs: performance.now() - started };
          }
        }),
      );
      // With connections set to fail, a phone that could not connect after its attempts is an
      // honest outcome (nothing charged, said so), not a surprise.
      const summary = summarize(results, (performance.now() - t0) / 1000, { connectFailuresExpected: (r.connectFailRate ?? 0) > 0 });
      if (!o.radio) return summary;
      const stats = await ble.radio.stats();
      return { ...summary, radio: { conditions: describeRadio(r), seed, ...stats } };
    } finally {
      await world.close();
    }
  } finally {
    await ble.close();
  }
}

export function describeRadio(r: FleetRadio): string {
  const parts = [
    ...(r.connectFailRate ? [`connections fail (0x3E) at ${r.connectFailRate}`] : []),
    ...(r.rssiUnavailable ? ['RSSI not available'] : []),
    ...(r.aclBuffer ? [`ACL buffers ${r.aclBuffer.count} x ${r.aclBuffer.length} bytes`] : []),
  ];
  return parts.length ? parts.join(', ') : 'kind';
}
