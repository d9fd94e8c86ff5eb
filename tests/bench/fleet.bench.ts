/**
 * The fleet over real BLE stacks: n phones (noble, each on its own virtual controller) paying at
 * one till (bleno) at a 30 ms connection interval, all at once. Connect-to-receipt latency is
 * measured from the start of the connection (after the scan found the till) to the verified
 * receipt; payments/s over the whole wave. The phones run in a process of their own (as phones
 * are devices of their own), with their cards issued before the clock starts; the till and the
 * backend share this one (the backend's use cases on their worker thread, as `serve` runs them);
 * the radio has its own.
 *
 * A wave of 10 phones or more runs 3 times; the figures are the median wave's (by p99), with
 * each wave's p99 beside them.
 *
 * The till's controller has 24 LE ACL buffers for all phones. bleno sends from one FIFO, so a
 * long burst to one phone delays every other phone's answers; the till sends in arrival order with
 * at most 6 buffers per phone (pos-terminal's acl-scheduler.ts, 'capped_fifo').
 * `fleet_<n>_acl_wait_*` shows how long packets waited for a buffer, and more 50-phone waves show
 * the other policies (`fleet_50_fair_*`: the fewest in flight first; `fleet_50_fifo_*`: bleno's
 * own) and a controller with twice the buffers (`fleet_50_acl48_*`).
 */
import {
  cardProfileFromEnv,
  poissonArrivals,
  runArrivals,
  startWorld,
  summarize,
  VirtualBle,
  type StepSummary,
  type World,
} from '@bluetill/simulator';
import type { AclPolicy, AclStats } from '@bluetill/pos-terminal';
import { fleetCards } from '@bluetill/backend';
import { percentile, report } from './report';

const TILL_ACL_BUFFERS = 24;

/**
 * `compareAt`: more waves of that many phones with the other ACL policies (`_fair`, `_fifo`), and
 * with a controller of twice the ACL buffers (`_acl48`), to show what limits the latency.
 */
export async function benchFleet(sizes: readonly number[], o: { compareAt?: number } = {}): Promise<void> {
  const roundTrips = await waves(sizes, '', 'capped_fifo', TILL_ACL_BUFFERS);
  report({
    bench: 'ble_round_trips_per_payment',
    value: roundTrips,
    unit: 'round trips',
    note: 'phone-to-till requests after connecting (Hello, CardAuth, Payment)',
  });
  if (o.compareAt) {
    await waves([o.compareAt], '_fair', 'fair', TILL_ACL_BUFFERS);
    await waves([o.compareAt], '_fifo', 'fifo', TILL_ACL_BUFFERS);
    await waves([o.compareAt], `_acl${2 * TILL_ACL_BUFFERS}`, 'capped_fifo', 2 * TILL_ACL_BUFFERS);
  }
}

const WAVES = 3;

interface Wave {
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly linkReadyP50: number;
  readonly linkReadyP99: number;
  readonly acl: AclStats;
  readonly roundTrips: number;
}

/** One wave: every card's phone pays at once (baskets rung up and phones made ready first). */
async function wave(
  world: World,
  ble: VirtualBle,
  cards: ReadonlyArray<{ id: string; pin: string }>,
): Promise<Wave> {
  const n = cards.length;
  for (let i = 0; i < n; i++)
    world.ringUp([{ sku: `gum-${i}`, name: 'Gum', quantity: 1, unitPriceMinor: 50 + i }]);
  await world.preparePhones(cards.map((c) => c.id)); // cards issued, Bluetooth on
  // The scheduler's counters are live; start each wave from zero.
  Object.assign(ble.tillAclStats()!, { reordered: 0, maxQueued: 0, sent: 0, waitMsTotal: 0, waitMsMax: 0 });
  const t0 = performance.now();
  const runs = await Promise.all(cards.map((c) => world.phonePays(c.id, c.pin)));
  const seconds = (performance.now() - t0) / 1000;
  const ok = runs.filter((r) => r.outcome.kind === 'approved');
  if (ok.length !== n)
    throw new Error(
      `fleet ${n}: only ${ok.length} approved: ${JSON.stringify(runs.find((r) => r.outcome.kind !== 'approved')?.outcome)}`,
    );
  const connectToReceipt = runs.map((r) => r.connectToReceiptMs ?? r.ms).sort((a, b) => a - b);
  const linkReady = runs.map((r) => r.linkReadyMs ?? 0).sort((a, b) => a - b);
  return {
    perSecond: n / seconds,
    p50: percentile(connectToReceipt, 50),
    p99: percentile(connectToReceipt, 99),
    linkReadyP50: percentile(linkReady, 50),
    linkReadyP99: percentile(linkReady, 99),
    acl: { ...ble.tillAclStats()! },
    roundTrips: Math.max(...runs.map((r) => r.roundTrips ?? 0)),
  };
}

/** The phones' cards take the time real contactless cards take (simulator card-timing.ts): `typical` unless BLUETILL_CARD_PROFILE says otherwise. */
const CARD_PROFILE = cardProfileFromEnv();

/** One world, the waves of each size; returns the most protocol round trips a phone needed. */
async function waves(
  sizes: readonly number[],
  label: string,
  aclPolicy: AclPolicy,
  tillAclBuffers: number,
): Promise<number> {
  const max = Math.max(...sizes);
  const ble = await VirtualBle.start({
    phoneShaping: { connectionIntervalMs: 30 },
    aclPolicy,
    tillAclBuffers,
  });
  // The backend runs its use cases on a worker thread, as `serve` does: its fsyncs and crypto stay
  // off the event loop that serves the phones' BLE links in this process.
  const world = await startWorld({
    radio: ble,
    fleetCards: max,
    limits: { sessionTimeoutMs: 300_000 },
    phonesInOwnProcess: true,
    backendWorker: true,
    cardProfile: CARD_PROFILE,
  });
  const cards = fleetCards(max);
  let roundTrips = 0;
  try {
    for (const n of sizes) {
      // A wave's p99 moves by about ±80 ms from wave to wave on 2 cores: waves of 10 phones or more
      // run WAVES times and the figures are the median wave's, with every wave's p99 beside them.
      const count = n >= 10 ? WAVES : 1;
      const results: Wave[] = [];
      for (let w = 0; w < count; w++) results.push(await wave(world, ble, cards.slice(0, n)));
      const byP99 = [...results].sort((a, b) => a.p99 - b.p99);
      const mid = byP99[Math.floor(byP99.length / 2)]!;
      const wavesP99 = results.map((r) => Number(r.p99.toFixed(1)));
      report({
        bench: `fleet_${n}${label}_payments_per_s`,
        value: mid.perSecond,
        unit: 'payments/s',
        phones: n,
        interval_ms: 30,
        acl_policy: aclPolicy,
        waves: count,
        card_profile: CARD_PROFILE,
      });
      report({ bench: `fleet_${n}${label}_p50_ms`, value: mid.p50, unit: 'ms', card_profile: CARD_PROFILE });
      report({
        bench: `fleet_${n}${label}_p99_ms`,
        value: mid.p99,
        unit: 'ms',
        waves_p99_ms: wavesP99,
        card_profile: CARD_PROFILE,
      });
      // Of which: connecting (one phone per advertising event of the till) and GATT setup.
      report({
        bench: `fleet_${n}${label}_link_ready_p50_ms`,
        value: mid.linkReadyP50,
        unit: 'ms',
        p99_ms: Number(mid.linkReadyP99.toFixed(1)),
      });
      report({
        bench: `fleet_${n}${label}_acl_wait_mean_ms`,
        value: mid.acl.sent ? mid.acl.waitMsTotal / mid.acl.sent : 0,
        unit: 'ms',
        packets: mid.acl.sent,
        packets_per_payment: mid.acl.sent / n,
        max_wait_ms: mid.acl.waitMsMax,
        max_queued: mid.acl.maxQueued,
        acl_buffers: tillAclBuffers,
      });
      roundTrips = Math.max(roundTrips, ...results.map((r) => r.roundTrips));
    }
  } finally {
    await world.close();
    await ble.close();
  }
  return roundTrips;
}

/** Open-loop rates (arrivals per second) and how long phones arrive at each. */
const OPEN_LOOP_RATES = [1, 5, 10, 20] as const;
const OPEN_LOOP_SECONDS = 10;
/** The max-rate search: this many rates between the measured ones, each for this long. */
const SEARCH_STEPS = 3;
const SEARCH_SECONDS = 6;
/** The till "sustains" a rate while connect-to-receipt p99 stays under this. */
const SUSTAINED_P99_MS = 1_000;
/** The rate whose step figures are reported (a till under moderate load). */
const STEPS_AT_RATE = 5;
const OPEN_LOOP_SEED = 20_261_207;
/** The rate the latency goals are set at (confirm to receipt p99 < 300 ms, arrival to basket p99 < 500 ms, machine time p50 < 600 ms). */
const GOAL_RATE = 20;

interface OpenLoopRun {
  readonly rate: number;
  readonly phones: number;
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
  readonly steps: StepSummary;
}

/**
 * Open loop: phones arrive at a rate (Poisson, seeded), each pays once and leaves, for
 * OPEN_LOOP_SECONDS at each rate, on one till at a 30 ms connection interval with `typical` cards;
 * connect-to-receipt p50/p99 by rate, what the shopper waits on step by step (at STEPS_AT_RATE),
 * and the highest rate with p99 under 1 s (searched between the measured rates, SEARCH_STEPS
 * runs of SEARCH_SECONDS). The phones of each run are made ready (card issued, Bluetooth on)
 * before its clock starts. About 2 minutes on 2 cores.
 */
export async function benchOpenLoop(o: { rates?: readonly number[]; seconds?: number } = {}): Promise<void> {
  const rates = o.rates ?? OPEN_LOOP_RATES;
  const seconds = o.seconds ?? OPEN_LOOP_SECONDS;
  const schedules = new Map(
    rates.map((r) => [r, poissonArrivals({ perSecond: r, durationS: seconds, seed: OPEN_LOOP_SEED + r })]),
  );
  // The search's rates stay under the highest measured one, so its run needs the most cards; margin for a Poisson draw.
  const most = Math.max(
    ...[...schedules.values()].map((s) => s.length),
    Math.ceil(Math.max(...rates) * SEARCH_SECONDS * 1.5) + 10,
  );
  const ble = await VirtualBle.start({
    phoneShaping: { connectionIntervalMs: 30 },
    aclPolicy: 'capped_fifo',
    tillAclBuffers: TILL_ACL_BUFFERS,
  });
  const world = await startWorld({
    radio: ble,
    fleetCards: most,
    limits: { sessionTimeoutMs: 300_000 },
    phonesInOwnProcess: true,
    backendWorker: true,
    cardProfile: CARD_PROFILE,
  });
  const cards = fleetCards(most);
  const run = async (rate: number, arrivalsMs: readonly number[]): Promise<OpenLoopRun> => {
    const plan = cards.slice(0, arrivalsMs.length).map((card) => ({ card, wrongPin: false }));
    const { results, seconds: s } = await runArrivals(world, plan, arrivalsMs);
    const summary = summarize(results, s);
    if (summary.approved !== plan.length || !summary.steps)
      throw new Error(
        `open loop at ${rate}/s: only ${summary.approved} of ${plan.length} approved: ${summary.errors.join('; ')}`,
      );
    return {
      rate,
      phones: plan.length,
      p50: summary.latencyMs.p50,
      p99: summary.latencyMs.p99,
      perSecond: summary.paymentsPerSecond,
      steps: summary.steps,
    };
  };
  try {
    const measured: OpenLoopRun[] = [];
    for (const rate of rates) {
      const r = await run(rate, schedules.get(rate)!);
      measured.push(r);
      const about = {
        unit: 'ms',
        arrivals_per_s: rate,
        phones: r.phones,
        duration_s: seconds,
        seed: OPEN_LOOP_SEED + rate,
        interval_ms: 30,
        card_profile: CARD_PROFILE,
      };
      report({ bench: `open_loop_${rate}_p50_ms`, value: r.p50, ...about, payments_per_s: r.perSecond });
      report({ bench: `open_loop_${rate}_p99_ms`, value: r.p99, ...about });
    }
    const at = measured.find((r) => r.rate === STEPS_AT_RATE) ?? measured[0]!;
    const stepAbout = {
      unit: 'ms',
      arrivals_per_s: at.rate,
      phones: at.phones,
      card_profile: CARD_PROFILE,
      shopper: 'no human delays',
    };
    report({
      bench: 'step_arrival_to_basket_p99_ms',
      value: at.steps.arrivalToBasketMs.p99,
      p50_ms: at.steps.arrivalToBasketMs.p50,
      ...stepAbout,
    });
    report({
      bench: 'step_card_read_p50_ms',
      value: at.steps.cardReadMs.p50,
      p99_ms: at.steps.cardReadMs.p99,
      ...stepAbout,
      note: "the card's own time; most of it read ahead, beside the BLE setup",
    });
    report({
      bench: 'step_card_after_un_p50_ms',
      value: at.steps.cardAfterUnMs.p50,
      p99_ms: at.steps.cardAfterUnMs.p99,
      ...stepAbout,
      note: "the card's part the payment waits on: GPO, INTERNAL AUTHENTICATE and the account-verification ARQC over the till's UN",
    });
    report({
      bench: 'step_pin_to_authorized_p99_ms',
      value: at.steps.pinToAuthorizedMs.p99,
      p50_ms: at.steps.pinToAuthorizedMs.p50,
      ...stepAbout,
    });
    report({
      bench: 'step_confirm_to_receipt_p99_ms',
      value: at.steps.confirmToReceiptMs.p99,
      p50_ms: at.steps.confirmToReceiptMs.p50,
      ...stepAbout,
    });
    report({
      bench: 'machine_time_p50_ms',
      value: at.steps.machineMs.p50,
      p99_ms: at.steps.machineMs.p99,
      ...stepAbout,
    });
    // The goals are set at GOAL_RATE: the same three figures there, beside the goal.
    const goal = measured.find((r) => r.rate === GOAL_RATE);
    if (goal) {
      const goalAbout = { ...stepAbout, arrivals_per_s: goal.rate, phones: goal.phones };
      report({
        bench: `goal_${GOAL_RATE}_confirm_to_receipt_p99_ms`,
        value: goal.steps.confirmToReceiptMs.p99,
        goal_ms: 300,
        ...goalAbout,
      });
      report({
        bench: `goal_${GOAL_RATE}_arrival_to_basket_p99_ms`,
        value: goal.steps.arrivalToBasketMs.p99,
        goal_ms: 500,
        ...goalAbout,
      });
      report({
        bench: `goal_${GOAL_RATE}_machine_time_p50_ms`,
        value: goal.steps.machineMs.p50,
        goal_ms: 600,
        ...goalAbout,
      });
    }

    // The highest rate with p99 under 1 s: between the highest measured rate that held and the
    // lowest above it that did not, by bisection.
    const held = (r: OpenLoopRun) => r.p99 < SUSTAINED_P99_MS;
    const firstFail = measured.findIndex((r) => !held(r));
    let lo = firstFail === -1 ? measured.at(-1)!.rate : firstFail === 0 ? 0 : measured[firstFail - 1]!.rate;
    let hi = firstFail === -1 ? lo : measured[firstFail]!.rate;
    const tried: Array<{ rate: number; p99_ms: number }> = measured.map((r) => ({
      rate: r.rate,
      p99_ms: r.p99,
    }));
    for (let i = 0; i < SEARCH_STEPS && firstFail > 0; i++) {
      const rate = Math.round(((lo + hi) / 2) * 10) / 10;
      const r = await run(
        rate,
        poissonArrivals({ perSecond: rate, durationS: SEARCH_SECONDS, seed: OPEN_LOOP_SEED + i }),
      );
      tried.push({ rate, p99_ms: r.p99 });
      if (held(r)) lo = rate;
      else hi = rate;
    }
    const note =
      firstFail === -1
        ? `held at every measured rate: at least ${lo}/s`
        : firstFail === 0
          ? `p99 over ${SUSTAINED_P99_MS} ms already at ${hi}/s, the lowest measured rate`
          : `between ${lo}/s (held) and ${hi}/s (did not)`;
    report({
      bench: 'open_loop_max_rate_per_s',
      value: lo,
      unit: 'arrivals/s',
      p99_limit_ms: SUSTAINED_P99_MS,
      search_runs_s: SEARCH_SECONDS,
      tried,
      note,
      card_profile: CARD_PROFILE,
    });
  } finally {
    await world.close();
    await ble.close();
  }
}
