/**
 * What a fleet run tells a tester: how many phones were approved, declined (by reason), failed
 * with nothing charged or ended with the outcome unknown; latency percentiles; throughput.
 */
import type { DeclineCode } from '@bluetill/protocol';
import type { PaymentOutcome } from '@bluetill/phone-agent';
import type { PhoneSteps, StepDurations } from '../phone/phone-run';

export interface FleetPhoneResult {
  readonly cardId: string;
  /** The PIN was deliberately wrong (--wrong-pin-every). */
  readonly wrongPin: boolean;
  /** The final outcome, or why the phone never got to pay (no till, link failure). */
  readonly outcome: PaymentOutcome | { readonly kind: 'error'; readonly message: string };
  /** Connection start (the till was found) to the final outcome; scan to outcome when not measured. */
  readonly latencyMs: number;
  /** When the phone arrived, ms from the start (0 in a wave). */
  readonly arrivedAtMs?: number;
  /** What the shopper waited on, step by step (phones that reached the till and were answered). */
  readonly steps?: StepDurations;
  /** When each of those steps happened, ms from the phone's arrival. */
  readonly stamps?: PhoneSteps;
}

export interface Percentiles {
  readonly p50: number;
  readonly p99: number;
}

/** The step figures over the approved phones (see PhoneSteps). */
export type StepSummary = { readonly [K in keyof StepDurations]-?: Percentiles };

export interface FleetSummary {
  readonly phones: number;
  readonly approved: number;
  readonly declined: Partial<Record<DeclineCode, number>>;
  /** Failed or cancelled, nothing charged (includes phones that never reached the till). */
  readonly failed: number;
  /** The Payment left the phone and no answer came, even after reconnecting. */
  readonly unknown: number;
  /** Of `failed`: phones whose connection to the till could not be established (after their attempts). */
  readonly connectFailed: number;
  /** Over the phones with a definitive answer from the till (approved or declined). */
  readonly latencyMs: {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
  };
  readonly seconds: number;
  readonly paymentsPerSecond: number;
  /** Phones that did not end as expected: approved with the right PIN, declined pin_incorrect with a wrong one. */
  readonly unexpected: number;
  /** First few failure messages (never card data), for a tester to start from. */
  readonly errors: readonly string[];
  /** What the shopper waits on, step by step, over the approved phones. */
  readonly steps?: StepSummary;
  /** Open loop: the arrival rate and the seed that repeats the arrivals. */
  readonly arrivals?: {
    readonly perSecond: number;
    readonly seed: number;
    readonly durationS?: number;
    readonly lastArrivalS: number;
  };
  /** What the radio put the phones and the till through (when asked for radio conditions). */
  readonly radio?: {
    readonly conditions: string;
    readonly seed: number;
    readonly failedToEstablish: number;
    readonly aclOverflows: number;
    readonly aclMaxInFlight: number;
  };
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (n: number) => Math.round(n * 10) / 10;

export function summarize(
  results: readonly FleetPhoneResult[],
  seconds: number,
  expect: { connectFailuresExpected?: boolean } = {},
): FleetSummary {
  const declined: Partial<Record<DeclineCode, number>> = {};
  let approved = 0;
  let failed = 0;
  let unknown = 0;
  let connectFailed = 0;
  let unexpected = 0;
  const errors: string[] = [];
  const answered: number[] = [];
  for (const r of results) {
    const o = r.outcome;
    switch (o.kind) {
      case 'approved':
        approved++;
        answered.push(r.latencyMs);
        if (r.wrongPin) unexpected++;
        break;
      case 'declined':
        declined[o.reason] = (declined[o.reason] ?? 0) + 1;
        answered.push(r.latencyMs);
        if (!r.wrongPin || o.reason !== 'pin_incorrect') unexpected++;
        break;
      case 'cancelled':
        failed++;
        unexpected++;
        break;
      case 'failed': {
        if (o.charged === 'unknown') unknown++;
        else failed++;
        const couldNotConnect = o.code === 'connect_failed' && o.charged === 'no';
        if (couldNotConnect) connectFailed++;
        if (!(couldNotConnect && expect.connectFailuresExpected)) unexpected++;
        if (errors.length < 5) errors.push(`${r.cardId}: ${o.code}: ${o.message}`);
        break;
      }
      case 'error':
        failed++;
        unexpected++;
        if (errors.length < 5) errors.push(`${r.cardId}: ${o.message}`);
        break;
    }
  }
  const sorted = answered.sort((a, b) => a - b);
  const steps = stepSummary(results.filter((r) => r.outcome.kind === 'approved').map((r) => r.steps ?? {}));
  return {
    phones: results.length,
    approved,
    declined,
    failed,
    unknown,
    connectFailed,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? 0),
    },
    seconds: Math.round(seconds * 100) / 100,
    paymentsPerSecond:
      seconds > 0 ? round((approved + Object.values(declined).reduce((a, b) => a + b, 0)) / seconds) : 0,
    unexpected,
    errors,
    ...(steps ? { steps } : {}),
  };
}

const STEP_KEYS = [
  'arrivalToBasketMs',
  'cardReadMs',
  'cardAfterUnMs',
  'pinToAuthorizedMs',
  'confirmToReceiptMs',
  'machineMs',
] as const satisfies ReadonlyArray<keyof StepDurations>;

/** Percentiles of each step over the runs that have it; undefined when no run has any. */
export function stepSummary(runs: readonly StepDurations[]): StepSummary | undefined {
  const out: Partial<Record<keyof StepDurations, Percentiles>> = {};
  for (const k of STEP_KEYS) {
    const v = runs
      .map((r) => r[k])
      .filter((x): x is number => x !== undefined)
      .sort((a, b) => a - b);
    if (v.length === 0) return undefined;
    out[k] = { p50: round(percentile(v, 50)), p99: round(percentile(v, 99)) };
  }
  return out as StepSummary;
}

export function formatSummary(s: FleetSummary): string {
  const declined = Object.entries(s.declined);
  return [
    `phones        ${s.phones}`,
    `approved      ${s.approved}`,
    `declined      ${declined.reduce((a, [, n]) => a + (n ?? 0), 0)}${declined.length ? ` (${declined.map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`,
    `failed        ${s.failed} (nothing charged${s.connectFailed ? `; ${s.connectFailed} could not connect to the till` : ''})`,
    `unknown       ${s.unknown}`,
    `latency ms    p50 ${s.latencyMs.p50}  p90 ${s.latencyMs.p90}  p99 ${s.latencyMs.p99}  max ${s.latencyMs.max}  (connect to receipt)`,
    `throughput    ${s.paymentsPerSecond} payments/s over ${s.seconds} s`,
    ...(s.arrivals
      ? [
          `arrivals      ${s.arrivals.perSecond}/s (Poisson, seed ${s.arrivals.seed}), last at ${s.arrivals.lastArrivalS} s`,
        ]
      : []),
    ...(s.steps
      ? [
          `steps ms      p50 / p99, what the shopper waits on:`,
          `  arrival to basket on screen  ${s.steps.arrivalToBasketMs.p50} / ${s.steps.arrivalToBasketMs.p99}`,
          `  card read (before the PIN)   ${s.steps.cardReadMs.p50} / ${s.steps.cardReadMs.p99}  (the card's time, part of it read ahead)`,
          `  card after the till's UN     ${s.steps.cardAfterUnMs.p50} / ${s.steps.cardAfterUnMs.p99}  (the card's part the payment waits on)`,
          `  PIN entered to authorized    ${s.steps.pinToAuthorizedMs.p50} / ${s.steps.pinToAuthorizedMs.p99}`,
          `  confirmed to receipt         ${s.steps.confirmToReceiptMs.p50} / ${s.steps.confirmToReceiptMs.p99}`,
          `  machine time                 ${s.steps.machineMs.p50} / ${s.steps.machineMs.p99}  (connect to receipt less the shopper's own time)`,
        ]
      : []),
    ...(s.radio
      ? [
          `radio         ${s.radio.conditions} (seed ${s.radio.seed}): ${s.radio.failedToEstablish} connection(s) failed to be established (0x3E), ${s.radio.aclOverflows} ACL overflows`,
        ]
      : []),
    ...(s.unexpected
      ? [`UNEXPECTED    ${s.unexpected} phone(s) did not end as expected`, ...s.errors.map((e) => `  ${e}`)]
      : []),
  ].join('\n');
}
