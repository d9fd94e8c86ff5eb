/**
 * One simulated phone paying once: scan for the till by counter name, connect, run the phone
 * agent's payment flow with an automatic shopper, and, when the link was lost after the Payment
 * left, reconnect and ask the till what became of it. Used by the world in-process and by the
 * phone host process (many phones in a process of their own, as phones are devices of their own).
 */
import { pay, retrieveReceipt, type BleCentral, type PaymentCard, type PaymentOutcome, type PayOptions } from '@bluetill/phone-agent';
import { AutoPrompt } from './auto-prompt';
import { dropAfterMessages } from './flaky-link';

export interface PhoneRunOptions {
  readonly tamper?: PayOptions['tamper'];
  readonly expectTotalMinor?: number;
  /** The link drops after this many messages (fault tests). */
  readonly dropAfterMessages?: number;
  /** Reconnect and ask after a lost link (default true). */
  readonly resume?: boolean;
  readonly onStep?: (step: string) => void;
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
  /** Messages the phone sent after connecting that asked for an answer (protocol round trips). */
  readonly roundTrips?: number;
}

export interface RunPhoneOptions extends PhoneRunOptions {
  readonly central: BleCentral;
  readonly card: PaymentCard;
  readonly pin: string;
  readonly trust: PayOptions['trust'];
  readonly counterName: string;
  readonly scanTimeoutMs?: number;
}

/** Pays once; always closes the central. */
export async function runPhone(o: RunPhoneOptions): Promise<PhoneRun> {
  const { central } = o;
  const t0 = performance.now();
  try {
    const found = await central.scan({ timeoutMs: o.scanTimeoutMs ?? 5_000, counterName: o.counterName });
    if (found.length === 0) throw new Error('no till found');
    const tConnect = performance.now();
    const connected = await central.connect(found[0]!.id);
    let roundTrips = 0;
    const counting: typeof connected = {
      get mtu() {
        return connected.mtu;
      },
      write: async (v, wo) => {
        await connected.write(v, wo);
        if ((v[0]! & 0x40) !== 0) roundTrips++; // LAST fragment: one whole request sent
      },
      readInfo: () => connected.readInfo(),
      onValue: (h) => connected.onValue(h),
      onDisconnect: (h) => connected.onDisconnect(h),
      disconnect: () => connected.disconnect(),
    };
    const link = o.dropAfterMessages ? dropAfterMessages(counting, o.dropAfterMessages) : counting;
    const prompt = new AutoPrompt({ pin: o.pin, ...(o.expectTotalMinor !== undefined ? { expectTotalMinor: o.expectTotalMinor } : {}), ...(o.onStep ? { onStep: o.onStep } : {}) });
    try {
      const outcome = await pay({ link, card: o.card, prompt, trust: o.trust, ...(o.tamper ? { tamper: o.tamper } : {}) });
      if (outcome.kind === 'failed' && outcome.resume && o.resume !== false) {
        // The link was lost after the Payment left: reconnect and ask the till what became of it.
        await connected.disconnect().catch(() => undefined);
        const again = await central.connect(found[0]!.id);
        try {
          const resumed = await retrieveReceipt({ link: again, trust: o.trust, ticket: outcome.resume });
          return { outcome: resumed, beforeResume: outcome, prompt, ms: performance.now() - t0 };
        } finally {
          await again.disconnect().catch(() => undefined);
        }
      }
      return { outcome, prompt, ms: performance.now() - t0, connectToReceiptMs: performance.now() - tConnect, roundTrips };
    } finally {
      await connected.disconnect().catch(() => undefined);
    }
  } finally {
    await central.close();
  }
}
