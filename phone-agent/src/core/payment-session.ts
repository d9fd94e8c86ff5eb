/**
 * One payment at a till, from the phone's side: find the till (by counter name, or the strongest signal),
 * connect, run the payment flow, and, when the link is lost after the Payment left the phone,
 * reconnect and ask the till for the outcome (retrieveReceipt) a few times; when the outcome is
 * still unknown (no signed answer from the till) and the card company's shopper listener is given,
 * ask it directly (askOutcome).
 * Ports only: a host (the CLI's pay-command.ts, the simulator) passes the central, the card and the
 * prompt. When no payment could start (no till, no Bluetooth, no connection) it throws
 * TillUnreachableError; the host decides what that means to it (the CLI: exit 4, nothing charged).
 */
import type { RsaPublicKey } from '@bluetill/protocol';
import {
  askOutcome,
  pay,
  retrieveReceipt,
  type CardholderVerification,
  type PaymentOutcome,
  type PayOptions,
} from './payment-flow';
import { BleCentralError, type Advertisement, type BleCentral, type CentralLink } from '../ports/ble-central';
import type { PaymentCard } from '../ports/payment-card';
import type { Prompt } from '../ports/prompt';
import { ShopperBackendError, type ShopperBackend } from '../ports/shopper-backend';
import { PhoneError } from './phone-error';
import { bySignal, signalText } from './signal';

/** The keys the phone checks the till, the receipts and (with `oda`) the card against. */
export type PaymentTrust = PayOptions['trust'] & {
  /** The scheme's EMV CA keys by index, for offline data authentication on the phone. */
  readonly emvCaKeys?: ReadonlyMap<number, RsaPublicKey>;
};

export type TillUnreachableCode = 'no_till' | 'ble_unavailable' | 'connect_failed';

/** No payment could start: the till was not found, Bluetooth is not available, or the connection failed. Nothing was charged. */
export class TillUnreachableError extends Error {
  override readonly name = 'TillUnreachableError';
  constructor(
    readonly code: TillUnreachableCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** `{ name }` picks that counter; `strongest` the till with the highest RSSI (an RSSI not available, 127, ranks last). */
export type TillChoice = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'strongest' };

export interface PaymentSessionOptions {
  readonly central: BleCentral;
  readonly card: PaymentCard;
  readonly prompt: Prompt;
  readonly trust: PaymentTrust;
  readonly till: TillChoice;
  readonly scanTimeoutMs: number;
  readonly connectTimeoutMs?: number;
  /** How often to reconnect and ask after a lost link (default 3). */
  readonly resumeAttempts?: number;
  /** Pause before each reconnection (default 500 ms, doubling). */
  readonly resumeBackoffMs?: number;
  readonly answerTimeoutMs?: number;
  /** Attacker-model phones in the fault suites edit what they send (see PayOptions.tamper). */
  readonly tamper?: PayOptions['tamper'];
  /** How the cardholder is verified (default the online PIN). */
  readonly cvm?: CardholderVerification;
  /** Offline data authentication on the phone before card data leaves it. */
  readonly oda?: boolean;
  /**
   * The card company's shopper listener: when the till's answers leave the outcome unknown, the
   * phone asks it directly (askOutcome) for the signed outcome of its payment.
   */
  readonly askBackend?: ShopperBackend;
}

export interface PaymentSessionResult {
  readonly till: Advertisement;
  readonly outcome: PaymentOutcome;
  /** True when the outcome came from the till after a reconnection. */
  readonly resumed: boolean;
  /** True when the outcome came from the card company directly (Shopper.GetOutcome). */
  readonly asked?: boolean;
  /** The outcome when the link was lost, before reconnecting to ask (only when it was lost after the Payment left). */
  readonly lost?: PaymentOutcome;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function pickTill(found: readonly Advertisement[], choice: TillChoice): Advertisement | undefined {
  switch (choice.kind) {
    case 'name':
      return found.filter((a) => a.counterName === choice.name).sort(bySignal)[0];
    case 'strongest':
      return [...found].sort(bySignal)[0];
  }
}

/** The BLE port's failures while finding or reaching the till, as TillUnreachableError (cause: the BleCentralError). */
const bleFailure = (e: unknown, doing: string): never => {
  if (e instanceof BleCentralError && e.code === 'adapter_unavailable') {
    throw new TillUnreachableError('ble_unavailable', `Bluetooth is not available: ${e.message}`, {
      cause: e,
    });
  }
  if (e instanceof BleCentralError && e.code === 'connect_failed') {
    const tries =
      e.attempts !== undefined ? ` (tried ${e.attempts} ${e.attempts === 1 ? 'time' : 'times'})` : '';
    throw new TillUnreachableError(
      'connect_failed',
      `could not ${doing}: the till's radio did not take the connection${tries}: ${e.message}. Nothing was charged; move closer or try again.`,
      { cause: e },
    );
  }
  if (e instanceof BleCentralError)
    throw new TillUnreachableError('connect_failed', `could not ${doing}: ${e.message}`, { cause: e });
  throw e;
};

export async function findTill(
  central: BleCentral,
  choice: TillChoice,
  timeoutMs: number,
  progress: (s: string) => void,
): Promise<Advertisement> {
  progress(choice.kind === 'name' ? `Looking for the till "${choice.name}"` : 'Looking for tills nearby');
  const found = await central
    .scan({ timeoutMs, ...(choice.kind === 'name' ? { counterName: choice.name } : {}) })
    .catch((e: unknown) => bleFailure(e, 'scan'));
  const till = pickTill(found, choice);
  if (!till) {
    const seen =
      found.length === 0 ? 'no till at all' : `only ${found.map((a) => `"${a.counterName}"`).join(', ')}`;
    const wanted = choice.kind === 'name' ? `the till "${choice.name}"` : 'a till';
    throw new TillUnreachableError(
      'no_till',
      `No till found: ${wanted} was not seen within ${timeoutMs} ms (${seen}). Move closer or check the counter name.`,
    );
  }
  return till;
}

export async function runPaymentSession(o: PaymentSessionOptions): Promise<PaymentSessionResult> {
  const progress = (s: string) => o.prompt.progress(s);
  // The card's part that needs no UN runs beside scan, connect and Hello; nothing of it leaves the
  // phone before the till has proven who it is (pay() sends card data only after HelloAck).
  o.card.prepare?.().catch(() => undefined);
  const till = await findTill(o.central, o.till, o.scanTimeoutMs, progress);
  progress(`Connecting to "${till.counterName}" (${signalText(till.rssi)})`);
  const connect = (): Promise<CentralLink> =>
    o.central.connect(till.id, { timeoutMs: o.connectTimeoutMs ?? 10_000 });
  const link = await connect().catch((e: unknown) => bleFailure(e, `connect to "${till.counterName}"`));
  let outcome: PaymentOutcome;
  try {
    outcome = await pay({
      link,
      card: o.card,
      prompt: o.prompt,
      trust: o.trust,
      ...(o.answerTimeoutMs ? { answerTimeoutMs: o.answerTimeoutMs } : {}),
      ...(o.cvm ? { cvm: o.cvm } : {}),
      ...(o.oda ? { oda: { caKeys: o.trust.emvCaKeys ?? new Map() } } : {}),
      ...(o.tamper ? { tamper: o.tamper } : {}),
    });
  } finally {
    await link.disconnect().catch(() => undefined);
  }
  let resumed = false;
  const lost = outcome.kind === 'failed' && outcome.resume ? outcome : undefined;
  let backoff = o.resumeBackoffMs ?? 500;
  for (
    let attempt = 1;
    attempt <= (o.resumeAttempts ?? 3) && outcome.kind === 'failed' && outcome.resume;
    attempt++
  ) {
    const ticket = outcome.resume;
    progress(
      `The link was lost after the payment was sent; reconnecting to ask the till (attempt ${attempt})`,
    );
    await sleep(backoff);
    backoff *= 2;
    let again: CentralLink;
    try {
      again = await connect();
    } catch {
      continue; // still out of reach: try again, then report the outcome as unknown
    }
    try {
      outcome = await retrieveReceipt({
        link: again,
        trust: o.trust,
        ticket,
        ...(o.answerTimeoutMs ? { answerTimeoutMs: o.answerTimeoutMs } : {}),
      });
      resumed = !(outcome.kind === 'failed' && outcome.resume);
    } finally {
      await again.disconnect().catch(() => undefined);
    }
  }
  let asked = false;
  if (o.askBackend && outcome.kind === 'failed' && outcome.charged === 'unknown' && outcome.resume) {
    progress('The till gave no signed outcome; asking the payment network directly');
    try {
      outcome = await askOutcome({
        backend: o.askBackend,
        card: o.card,
        trust: o.trust,
        ticket: outcome.resume,
      });
      asked = true;
    } catch (e) {
      if (!(e instanceof PhoneError) && !(e instanceof ShopperBackendError)) throw e;
      progress(`The payment network could not be asked (${e.code})`);
    }
  }
  return { till, outcome, resumed, ...(asked ? { asked } : {}), ...(lost ? { lost } : {}) };
}
