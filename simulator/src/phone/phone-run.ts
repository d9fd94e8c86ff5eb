/**
 * One simulated phone paying once: scan for the till by counter name, connect, run the phone
 * agent's payment flow with an automatic shopper, and, when the link was lost after the Payment
 * left, reconnect and ask the till what became of it. Used by the world in-process and by the
 * phone host process (many phones in a process of their own, as phones are devices of their own).
 */
import {
  runPaymentSession,
  TillUnreachableError,
  type BleCentral,
  type CardholderVerification,
  type Trust,
  type CentralLink,
  type PaymentCard,
  type PaymentOutcome,
  type PayOptions,
} from '@bluetill/phone-agent';
import { LAST } from '@bluetill/protocol';
import { AutoPrompt, type ShopperDelays } from './auto-prompt';
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
  /** The simulated shopper's own time (PIN typing, reading the basket); default none. */
  readonly shopper?: ShopperDelays;
  /** How long the phone waits for each answer from the till (the phone agent's default otherwise). */
  readonly answerTimeoutMs?: number;
}

/**
 * When each step the shopper waits on happened, ms from the phone's arrival (it starts scanning
 * for the till). Stamped on the phone around the payment flow, never in the protocol.
 */
export interface PhoneSteps {
  /** The till was found: the connection starts. */
  readonly connectAt?: number;
  /** The card read: first APDU (SELECT) to the card's data returned (INTERNAL AUTHENTICATE, or the account-verification ARQC), before the PIN. */
  readonly cardReadStartAt?: number;
  readonly cardReadEndAt?: number;
  /** The part read ahead, without the UN (PaymentCard.prepare): its end. */
  readonly cardPrefixEndAt?: number;
  /** The flow asked for the card's data over the till's UN (read): the card's part on the critical path starts. */
  readonly cardUnAt?: number;
  /** The PIN's last digit typed. */
  readonly pinEnteredAt?: number;
  /** "Authorized": the AuthResult with the basket reached the phone's screen. */
  readonly basketAt?: number;
  /** The shopper confirmed the basket. */
  readonly confirmedAt?: number;
  /** The till's answer verified on the phone (the receipt, or a decline), before the link is closed. */
  readonly receiptAt?: number;
  /** The simulated shopper's own time within the run (PIN typing, reading the basket). */
  readonly shopperMs: number;
}

/** What the shopper waits on, from a run's steps; a figure is absent when its steps did not happen. */
export interface StepDurations {
  readonly arrivalToBasketMs?: number;
  /** The card's own time for its read (with a part read ahead: that part plus the part after the UN). */
  readonly cardReadMs?: number;
  /** What the payment waited on the card once the till's UN was there (the card read's part on the critical path). */
  readonly cardAfterUnMs?: number;
  readonly pinToAuthorizedMs?: number;
  readonly confirmToReceiptMs?: number;
  /** Connect to receipt less the shopper's own time: what the phone, the till, the card and the radio took. */
  readonly machineMs?: number;
}

export function stepDurations(s: PhoneSteps): StepDurations {
  const span = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined ? { v: b - a } : undefined;
  const afterUn = span(s.cardUnAt, s.cardReadEndAt);
  const ahead = span(s.cardReadStartAt, s.cardPrefixEndAt);
  const card = ahead && afterUn ? { v: ahead.v + afterUn.v } : span(s.cardReadStartAt, s.cardReadEndAt);
  const pin = span(s.pinEnteredAt, s.basketAt);
  const confirm = span(s.confirmedAt, s.receiptAt);
  const machine = span(s.connectAt, s.receiptAt);
  return {
    ...(s.basketAt !== undefined ? { arrivalToBasketMs: s.basketAt } : {}),
    ...(card ? { cardReadMs: card.v } : {}),
    ...(afterUn ? { cardAfterUnMs: afterUn.v } : {}),
    ...(pin ? { pinToAuthorizedMs: pin.v } : {}),
    ...(confirm ? { confirmToReceiptMs: confirm.v } : {}),
    ...(machine ? { machineMs: machine.v - s.shopperMs } : {}),
  };
}

export interface PhoneRun {
  readonly outcome: PaymentOutcome;
  /** The first outcome when the link was lost and the phone reconnected to ask (resume). */
  readonly beforeResume?: PaymentOutcome;
  /** What the automatic shopper saw: the merchant name, the basket, the progress steps. */
  readonly prompt: Pick<AutoPrompt, 'merchantName' | 'shownBasket' | 'steps'>;
  /** Scan start to final outcome. */
  readonly ms: number;
  /** Connection start (the till was found) to the final outcome verified on the phone. */
  readonly connectToReceiptMs?: number;
  /** Connection start to a link ready for Hello (LE connection, MTU exchange, GATT setup). */
  readonly linkReadyMs?: number;
  /** Messages the phone sent after connecting that asked for an answer (protocol round trips). */
  readonly roundTrips?: number;
  /** When each step happened (not after a reconnection to ask). */
  readonly steps?: PhoneSteps;
  /** The phone's progress lines with their time from arrival, ms (a tester's per-phone log). */
  readonly timeline: ReadonlyArray<{ readonly atMs: number; readonly step: string }>;
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
  let cardReadStart: number | undefined;
  let cardPrefixEnd: number | undefined;
  let cardUn: number | undefined;
  let cardReadEnd: number | undefined;
  let answered: number | undefined;
  const timeline: Array<{ atMs: number; step: string }> = [];
  const stamp = (step: string) => {
    timeline.push({ atMs: Math.round((performance.now() - t0) * 10) / 10, step });
    o.onStep?.(step);
  };
  const prompt = new AutoPrompt({
    pin: o.pin,
    ...(o.expectTotalMinor !== undefined ? { expectTotalMinor: o.expectTotalMinor } : {}),
    onStep: (step) => stamp(step),
    ...(o.confirmWhen ? { confirmWhen: o.confirmWhen } : {}),
    ...o.shopper,
  });
  // The card as the flow sees it: its read (every APDU before the PIN, a part of it read ahead) is timed.
  const prepare = o.card.prepare?.bind(o.card);
  const card: PaymentCard = {
    ...(prepare
      ? {
          prepare: () => {
            cardReadStart ??= performance.now();
            return prepare().then(() => {
              if (cardPrefixEnd === undefined) stamp("Card read up to the till's UN");
              cardPrefixEnd ??= performance.now();
            });
          },
        }
      : {}),
    read: async (un, options) => {
      cardReadStart ??= performance.now();
      cardUn ??= performance.now();
      try {
        return await o.card.read(un, options);
      } finally {
        cardReadEnd ??= performance.now();
      }
    },
    generateAc: (input) => o.card.generateAc(input),
    ...(o.card.verifyCardholder
      ? {
          verifyCardholder: (v: Parameters<NonNullable<PaymentCard['verifyCardholder']>>[0]) =>
            o.card.verifyCardholder!(v),
        }
      : {}),
    ...(o.card.issuerAuthenticate
      ? { issuerAuthenticate: (d: Uint8Array) => o.card.issuerAuthenticate!(d) }
      : {}),
  };
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
        disconnect: () => {
          answered ??= performance.now(); // the flow closes the link once the till's answer is verified
          return connected.disconnect();
        },
      };
      const dropping = o.dropAfterMessages ? dropAfterMessages(counting, o.dropAfterMessages) : counting;
      return o.wrapLink ? o.wrapLink(dropping) : dropping;
    },
    close: () => o.central.close(),
  };
  try {
    const r = await runPaymentSession({
      central,
      card,
      prompt,
      trust: o.trust,
      till: { kind: 'name', name: o.counterName },
      scanTimeoutMs: o.scanTimeoutMs ?? 5_000,
      resumeBackoffMs: 300,
      ...(o.tamper ? { tamper: o.tamper } : {}),
      ...(o.cvm ? { cvm: o.cvm } : {}),
      ...(o.oda ? { oda: true } : {}),
      ...(o.answerTimeoutMs ? { answerTimeoutMs: o.answerTimeoutMs } : {}),
    });
    const end = performance.now();
    const ms = end - t0;
    if (r.lost) return { outcome: r.outcome, beforeResume: r.lost, prompt, ms, timeline };
    const at = (t: number | undefined) => (t !== undefined ? t - t0 : undefined);
    const receipt = answered ?? end;
    const steps: PhoneSteps = {
      shopperMs: prompt.shopperMs(),
      ...defined({
        connectAt: at(tConnect),
        cardReadStartAt: at(cardReadStart),
        cardPrefixEndAt: at(cardPrefixEnd),
        cardUnAt: at(cardUn),
        cardReadEndAt: at(cardReadEnd),
        pinEnteredAt: at(prompt.pinEnteredAt),
        basketAt: at(prompt.basketShownAt),
        confirmedAt: at(prompt.confirmedAt),
        receiptAt: at(receipt),
      }),
    };
    return {
      outcome: r.outcome,
      prompt,
      ms,
      ...(tConnect !== undefined ? { connectToReceiptMs: receipt - tConnect } : {}),
      ...(linkReadyMs !== undefined ? { linkReadyMs } : {}),
      roundTrips,
      steps,
      timeline,
    };
  } catch (error) {
    // No payment could start (no till, no link): the phone's outcome is "nothing charged".
    if (error instanceof TillUnreachableError) {
      return {
        outcome: { kind: 'failed', code: error.code, message: error.message, charged: 'no' },
        prompt,
        ms: performance.now() - t0,
        timeline,
      };
    }
    throw error;
  } finally {
    await o.central.close();
  }
}

function defined<T extends Record<string, number | undefined>>(o: T): { [K in keyof T]?: number } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: number;
  };
}
