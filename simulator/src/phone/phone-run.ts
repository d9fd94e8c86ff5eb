/**
 * One simulated phone paying once: scan for the till by counter name, connect, run the phone
 * agent's payment flow with an automatic shopper, and, when the link was lost after the Payment
 * left, reconnect and ask the till what became of it. Used by the world in-process and by the
 * phone host process (many phones in a process of their own, as phones are devices of their own).
 */
import { CliError, EXIT, runPaymentSession, type BleCentral, type CardholderVerification, type Trust, type CentralLink, type PaymentCard, type PaymentOutcome, type PayOptions } from '@bluetill/phone-agent';
import { LAST } from '@bluetill/protocol';
import { AutoPrompt } from './auto-prompt';
import { dropAfterMessages } from './flaky-link';

export interface PhoneRunOptions {
  readonly tamper?: PayOptions['tamper'];
  readonly expectTotalMinor?: number;
  /** The link drops after this many messages (fault tests). */
  readonly dropAfterMessages?: number;
  /** Any other fault on the link (e.g. dropAfterValues): wraps the connected link. */
  readonly wrapLink?: (link: CentralLink) => CentralLink;
  /** Reconnect and ask after a lost link (default true). */
  readonly resume?: boolean;
  readonly onStep?: (step: string) => void;
  /** The shopper confirms the basket only once this settles (in-process phones only). */
  readonly confirmWhen?: Promise<unknown>;
  /** How the cardholder is verified (default the online PIN). */
  readonly cvm?: CardholderVerification;
  /** Offline data authentication on the phone, with `trust.emvCaKeys`. */
  readonly oda?: boolean;
}

export interface PhoneRun {
  readonly outcome: PaymentOutcome;
  /** The first outcome when the link was lost and the phone reconnected to ask (resume). */
  readonly beforeResume?: PaymentOutcome;
  /** What the automatic shopper saw: the merchant name, the basket, the progress steps. */
  readonly prompt: Pick<AutoPrompt, 'merchantName' | 'shownBasket' | 'steps'>;
  /** Scan start to final outcome. */
  readonly ms: number;
  /** Connection start (the till was found) to final outcome. */
  readonly connectToReceiptMs?: number;
  /** Connection start to a link ready for Hello (LE connection, MTU exchange, GATT setup). */
  readonly linkReadyMs?: number;
  /** Messages the phone sent after connecting that asked for an answer (protocol round trips). */
  readonly roundTrips?: number;
}

export interface RunPhoneOptions extends PhoneRunOptions {
  readonly central: BleCentral;
  readonly card: PaymentCard;
  readonly pin: string;
  readonly trust: Trust;
  readonly counterName: string;
  readonly scanTimeoutMs?: number;
}

/**
 * Pays once with the phone agent's own session logic (find the till by counter name, connect, pay,
 * reconnect and ask after a link lost once the Payment left); always closes the central.
 */
export async function runPhone(o: RunPhoneOptions): Promise<PhoneRun> {
  const t0 = performance.now();
  let tConnect: number | undefined;
  let linkReadyMs: number | undefined;
  let roundTrips = 0;
  const prompt = new AutoPrompt({
    pin: o.pin, ...(o.expectTotalMinor !== undefined ? { expectTotalMinor: o.expectTotalMinor } : {}), ...(o.onStep ? { onStep: o.onStep } : {}),
    ...(o.confirmWhen ? { confirmWhen: o.confirmWhen } : {}),
  });
  let links = 0;
  // The central as the session sees it: the first link is timed, counted and given the faults.
  const central: BleCentral = {
    scan: (s) => o.central.scan(s),
    async connect(id, c) {
      const first = ++links === 1;
      if (first) tConnect = performance.now();
      const connected = await o.central.connect(id, c);
      if (!first) return connected;
      linkReadyMs = performance.now() - tConnect!;
      const counting: CentralLink = {
        get mtu() {
          return connected.mtu;
        },
        write: async (v, wo) => {
          await connected.write(v, wo);
          if ((v[0]! & LAST) !== 0) roundTrips++; // LAST fragment: one whole request sent
        },
        readInfo: () => connected.readInfo(),
        onValue: (h) => connected.onValue(h),
        onDisconnect: (h) => connected.onDisconnect(h),
        disconnect: () => connected.disconnect(),
      };
      const dropping = o.dropAfterMessages ? dropAfterMessages(counting, o.dropAfterMessages) : counting;
      return o.wrapLink ? o.wrapLink(dropping) : dropping;
    },
    close: () => o.central.close(),
  };
  try {
    const r = await runPaymentSession({
      central, card: o.card, prompt, trust: o.trust,
      till: { kind: 'name', name: o.counterName }, scanTimeoutMs: o.scanTimeoutMs ?? 5_000,
      resumeBackoffMs: 300,
      ...(o.tamper ? { tamper: o.tamper } : {}), ...(o.cvm ? { cvm: o.cvm } : {}), ...(o.oda ? { oda: true } : {}),
    });
    const ms = performance.now() - t0;
    if (r.lost) return { outcome: r.outcome, beforeResume: r.lost, prompt, ms };
    return { outcome: r.outcome, prompt, ms, ...(tConnect !== undefined ? { connectToReceiptMs: performance.now() - tConnect } : {}), ...(linkReadyMs !== undefined ? { linkReadyMs } : {}), roundTrips };
  } catch (error) {
    // The session stops before any payment could start (no till, no link): the phone's outcome is "nothing charged".
    if (error instanceof CliError && error.exitCode === EXIT.notCharged) {
      return { outcome: { kind: 'failed', code: error.code, message: error.message, charged: 'no' }, prompt, ms: performance.now() - t0 };
    }
    throw error;
  } finally {
    await o.central.close();
  }
}
