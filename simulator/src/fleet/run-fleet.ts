/**
 * A fleet of simulated phones, each with its own virtual card and its own controller on the
 * virtual radio (real noble stacks), paying at one till (real bleno) against the seeded backend.
 * Every K-th phone types a wrong PIN. Two ways to bring the phones:
 *   - a wave (closed loop): N phones at the till at the same instant, all awaited;
 *   - open loop: phones arrive at a rate (Poisson, seeded), each pays once and leaves; the till
 *     has a basket rung up as each phone arrives. Arrivals do not wait for earlier phones, so a
 *     till slower than the rate shows as latency that grows, as at a real counter.
 *
 * @example
 *   const summary = await runFleet({ phones: 20, wrongPinEvery: 5 });
 *   // { phones: 20, approved: 16, declined: { pin_incorrect: 4 }, failed: 0, latencyMs: { p50, p90, p99 }, … }
 *   const open = await runFleet({ arrivalsPerSecond: 5, durationS: 10, seed: 42 });
 *   // { …, arrivals: { perSecond: 5, seed: 42, … }, steps: { cardReadMs: { p50, p99 }, … } }
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fleetCards } from '@bluetill/backend';
import { VirtualBle } from '../link/virtual-ble';
import { startWorld, type World } from '../world';
import { summarize, type FleetPhoneResult, type FleetSummary } from './fleet-summary';
import { freshSeed, poissonArrivals } from './arrivals';
import type { CardProfileName } from '../card/card-timing';
import type { ShopperDelays } from '../phone/auto-prompt';
import { stepDurations, type PhoneRun } from '../phone/phone-run';

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
export const HARSH_RADIO: FleetRadio = {
  connectFailRate: 0.2,
  rssiUnavailable: true,
  aclBuffer: { length: 192, count: 1 },
};

export interface FleetOptions {
  /** A wave: this many phones at once. Open loop (with `arrivalsPerSecond`): this many arrivals, instead of `durationS`. */
  readonly phones?: number;
  /** Open loop: phones arrive at this mean rate (Poisson), each pays once and leaves. */
  readonly arrivalsPerSecond?: number;
  /** Open loop: phones arrive for this long, seconds. */
  readonly durationS?: number;
  /** Open loop: seed of the arrival times (default a fresh one, in the summary and on stderr). */
  readonly seed?: number;
  /** Every K-th phone (K, 2K, …) types a wrong PIN; 0 = none. */
  readonly wrongPinEvery?: number;
  /** BLE connection interval of the phones' links, ms (default 30). */
  readonly connectionIntervalMs?: number;
  /** Radio conditions (default: none, the kind radio). */
  readonly radio?: FleetRadio;
  /** Progress lines for a watching tester (phones arrived / paid / failed about every second). */
  readonly onProgress?: (line: string) => void;
  /** How long the phones' cards take (card-timing.ts); default `typical`, as real cards. */
  readonly cardProfile?: CardProfileName;
  /** The simulated shoppers' own time (PIN typing, reading the basket); default none. */
  readonly shopper?: ShopperDelays;
  /** Write one log per phone (its steps with their times, its outcome, its step figures) here. */
  readonly logDir?: string;
}

/** A wrong PIN that is not the card's (fleet PINs are 1001 …). */
const WRONG_PIN = '0000';

export async function runFleet(o: FleetOptions): Promise<FleetSummary> {
  const open = o.arrivalsPerSecond !== undefined;
  const seed = o.seed ?? freshSeed();
  let arrivalsMs: number[] | undefined;
  if (open) {
    if (o.phones === undefined && o.durationS === undefined)
      throw new RangeError('an open-loop fleet needs durationS or phones');
    arrivalsMs = poissonArrivals({
      perSecond: o.arrivalsPerSecond!,
      seed,
      ...(o.phones !== undefined ? { count: o.phones } : { durationS: o.durationS! }),
    });
    if (arrivalsMs.length === 0)
      throw new RangeError(
        `no phone arrives within ${o.durationS} s at ${o.arrivalsPerSecond}/s (seed ${seed})`,
      );
  } else if (!Number.isSafeInteger(o.phones) || o.phones! < 1)
    throw new RangeError('phones must be at least 1');
  const phones = arrivalsMs?.length ?? o.phones!;
  const every = o.wrongPinEvery ?? 0;
  const say = o.onProgress ?? (() => undefined);
  say(`starting the radio, the backend and the till for ${phones} phones`);
  const r = o.radio ?? {};
  const acl = r.aclBuffer
    ? { aclBufferLength: r.aclBuffer.length, aclBuffers: r.aclBuffer.count }
    : undefined;
  const radioSeed = r.seed ?? freshSeed();
  if (o.radio) say(`radio: ${describeRadio(r)} (seed ${radioSeed})`);
  const ble = await VirtualBle.start({
    seed: radioSeed,
    phoneShaping: {
      connectionIntervalMs: o.connectionIntervalMs ?? 30,
      ...(r.connectFailRate !== undefined ? { connectFailRate: r.connectFailRate } : {}),
      ...(r.rssiUnavailable !== undefined ? { rssiUnavailable: r.rssiUnavailable } : {}),
    },
    ...(acl ? { tillController: acl, phoneController: acl } : {}),
  });
  try {
    const world = await startWorld({
      radio: ble,
      fleetCards: phones,
      limits: { sessionTimeoutMs: 300_000 },
      phonesInOwnProcess: true,
      cardProfile: o.cardProfile ?? 'typical',
    });
    try {
      const plan = fleetCards(phones).map((c, i) => ({
        card: c,
        wrongPin: every > 0 && (i + 1) % every === 0,
      }));
      const common = {
        onProgress: say,
        ...(o.shopper ? { shopper: o.shopper } : {}),
        ...(o.logDir ? { logDir: o.logDir } : {}),
      };
      let results: FleetPhoneResult[];
      let seconds: number;
      if (arrivalsMs) {
        say(
          `open loop: ${phones} phones arriving at ${o.arrivalsPerSecond}/s (seed ${seed}; repeat with --seed ${seed})`,
        );
        ({ results, seconds } = await runArrivals(world, plan, arrivalsMs, common));
      } else {
        for (const [i, p] of plan.entries()) if (!p.wrongPin) world.ringUp(gum(i));
        say(`${plan.length} phones paying (${plan.filter((p) => p.wrongPin).length} with a wrong PIN)`);
        ({ results, seconds } = await payAll(
          world,
          plan.map((p) => ({ ...p, atMs: 0 })),
          common,
        ));
      }
      // With connections set to fail, a phone that could not connect after its attempts is an
      // honest outcome (nothing charged, said so), not a surprise.
      let summary = summarize(results, seconds, { connectFailuresExpected: (r.connectFailRate ?? 0) > 0 });
      if (arrivalsMs)
        summary = {
          ...summary,
          arrivals: {
            perSecond: o.arrivalsPerSecond!,
            seed,
            ...(o.durationS !== undefined && o.phones === undefined ? { durationS: o.durationS } : {}),
            lastArrivalS: Math.round(arrivalsMs.at(-1)!) / 1000,
          },
        };
      if (!o.radio) return summary;
      const stats = await ble.radio.stats();
      return { ...summary, radio: { conditions: describeRadio(r), seed: radioSeed, ...stats } };
    } finally {
      await world.close();
    }
  } finally {
    await ble.close();
  }
}

const gum = (i: number) => [
  { sku: `gum-${i + 1}`, name: 'Gum', quantity: 1, unitPriceMinor: 50 + (i % 500) },
];

export interface FleetPhonePlan {
  readonly card: { readonly id: string; readonly pin: string };
  readonly wrongPin: boolean;
}

export interface PayAllOptions {
  readonly onProgress?: (line: string) => void;
  readonly shopper?: ShopperDelays;
  readonly logDir?: string;
}

/**
 * Phones made ready ahead of their arrival, at most. Each ready phone holds a noble stack, and each
 * stack adds its own `exit` and SIGINT listeners to the phone host's process until it is closed:
 * readying every phone of a long run up front piles them up (and the radio's controllers with
 * them), so phones are readied this many ahead of the one arriving.
 */
const READY_AHEAD = 64;

/**
 * Open loop on a running world: the phone of `plan[i]` arrives `arrivalsMs[i]` after the start;
 * its basket is rung up as it arrives (not for a wrong PIN, which is declined before any basket)
 * and it pays once. Phones are made ready (card issued, Bluetooth on) before they arrive: the
 * first READY_AHEAD before the clock starts, then one more as each arrives. `seconds` runs from
 * the start to the last phone's outcome.
 */
export async function runArrivals(
  world: World,
  plan: readonly FleetPhonePlan[],
  arrivalsMs: readonly number[],
  o: PayAllOptions = {},
): Promise<{ results: FleetPhoneResult[]; seconds: number }> {
  if (arrivalsMs.length !== plan.length) throw new RangeError('one arrival time per phone');
  const ids = plan.map((p) => p.card.id);
  const ahead = Math.min(READY_AHEAD, ids.length);
  await world.preparePhones(ids.slice(0, ahead));
  const ready: Array<Promise<void>> = ids.map(() => Promise.resolve());
  let readying = Promise.resolve();
  return payAll(
    world,
    plan.map((p, i) => ({ ...p, atMs: arrivalsMs[i]! })),
    o,
    (i) => {
      if (!plan[i]!.wrongPin) world.ringUp(gum(i));
      const next = i + ahead;
      if (next < ids.length) ready[next] = readying = readying.then(() => world.preparePhones([ids[next]!]));
    },
    (i) => ready[i]!,
  );
}

/** Each phone pays at its time (0: at once); progress about every second; a log per phone on request. */
async function payAll(
  world: World,
  plan: ReadonlyArray<FleetPhonePlan & { readonly atMs: number }>,
  o: PayAllOptions,
  onArrival?: (i: number) => void,
  readied?: (i: number) => Promise<void>,
): Promise<{ results: FleetPhoneResult[]; seconds: number }> {
  const say = o.onProgress ?? (() => undefined);
  if (o.logDir) mkdirSync(o.logDir, { recursive: true });
  let arrived = 0;
  let paid = 0;
  let declined = 0;
  let failed = 0;
  const t0 = performance.now();
  const line = () =>
    `${((performance.now() - t0) / 1000).toFixed(1)} s: ${arrived}/${plan.length} arrived, ${paid} paid, ${declined} declined, ${failed} failed, ${arrived - paid - declined - failed} at the till`;
  const ticker = setInterval(() => say(line()), 1_000);
  try {
    const results = await Promise.all(
      plan.map(async ({ card, wrongPin, atMs }, i): Promise<FleetPhoneResult> => {
        const wait = t0 + atMs - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        arrived++;
        onArrival?.(i);
        const started = performance.now();
        let result: FleetPhoneResult;
        let run: PhoneRun | undefined;
        try {
          await readied?.(i); // made ready before it arrived, unless readying fell behind the arrivals
          run = await world.phonePays(
            card.id,
            wrongPin ? WRONG_PIN : card.pin,
            o.shopper ? { shopper: o.shopper } : {},
          );
          const steps = run.steps ? stepDurations(run.steps) : undefined;
          result = {
            cardId: card.id,
            wrongPin,
            outcome: run.outcome,
            latencyMs: run.connectToReceiptMs ?? run.ms,
            arrivedAtMs: atMs,
            ...(steps ? { steps, stamps: run.steps! } : {}),
          };
        } catch (e) {
          result = {
            cardId: card.id,
            wrongPin,
            outcome: { kind: 'error', message: (e as Error).message },
            latencyMs: performance.now() - started,
            arrivedAtMs: atMs,
          };
        }
        const k = result.outcome.kind;
        if (k === 'approved') paid++;
        else if (k === 'declined') declined++;
        else failed++;
        if (o.logDir) writeFileSync(join(o.logDir, `${card.id}.log`), phoneLog(result, run));
        return result;
      }),
    );
    return { results, seconds: (performance.now() - t0) / 1000 };
  } finally {
    clearInterval(ticker);
    say(line());
  }
}

/** One phone's log for a tester: its steps with their times from arrival, its outcome, its figures (no card data). */
function phoneLog(r: FleetPhoneResult, run: PhoneRun | undefined): string {
  const o = r.outcome;
  const outcome =
    o.kind === 'declined'
      ? `declined ${o.reason}`
      : o.kind === 'failed'
        ? `failed ${o.code} (charged: ${o.charged}): ${o.message}`
        : o.kind === 'error'
          ? `error: ${o.message}`
          : o.kind;
  return [
    `phone ${r.cardId}${r.wrongPin ? ' (wrong PIN on purpose)' : ''}, arrived ${(r.arrivedAtMs ?? 0).toFixed(1)} ms after the start`,
    ...(run?.timeline ?? []).map((t) => `${t.atMs.toFixed(1).padStart(9)} ms  ${t.step}`),
    `${(run?.ms ?? r.latencyMs).toFixed(1).padStart(9)} ms  ${outcome}`,
    `connect to receipt ${r.latencyMs.toFixed(1)} ms`,
    ...(r.steps ? Object.entries(r.steps).map(([k, v]) => `${k} ${v.toFixed(1)}`) : []),
    '',
  ].join('\n');
}

export function describeRadio(r: FleetRadio): string {
  const parts = [
    ...(r.connectFailRate ? [`connections fail (0x3E) at ${r.connectFailRate}`] : []),
    ...(r.rssiUnavailable ? ['RSSI not available'] : []),
    ...(r.aclBuffer ? [`ACL buffers ${r.aclBuffer.count} x ${r.aclBuffer.length} bytes`] : []),
  ];
  return parts.length ? parts.join(', ') : 'kind';
}
