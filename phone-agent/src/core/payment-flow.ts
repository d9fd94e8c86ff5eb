/**
 * The shopper's side of a payment at a till (claim 3), over a connected CentralLink.
 *
 * ```mermaid
 * sequenceDiagram
 *   participant Card
 *   participant Phone
 *   participant Till
 *   Phone->>Till: Hello (ephemeral key, nonce)
 *   Till-->>Phone: HelloAck (terminal cert, signature, merchant, UN, PIN-key cert)
 *   Phone->>Card: SELECT, GPO, read records (no UN: from arrival, beside the BLE setup)
 *   Note over Phone: verify till before any card data leaves
 *   Phone->>Card: GPO(UN), INTERNAL AUTHENTICATE(UN)
 *   Note over Phone: optional ODA on the phone (CA keys it holds): a card that fails sends nothing
 *   alt online PIN (default)
 *     Phone->>Card: GENERATE AC (amount 0, UN): account-verification ARQC; the card waits for the issuer
 *     Note over Phone: PIN typed, sealed to the PIN key
 *   else offline PIN / fingerprint / knowledge secret
 *     Phone->>Card: VERIFY P2 80 / 90 / 91 (card counts tries, result in its CVR)
 *     Note over Phone: a failed check ends here: nothing is sent
 *   end
 *   Phone->>Till: CardAuth (sealed; declared CVM, PIN block only for online PIN)
 *   opt no sale rung up at the till yet
 *     Till-->>Phone: TillStatus waiting_for_basket (shown as progress; the wait is stretched by its wait_ms)
 *   end
 *   Till-->>Phone: AuthResult (+ basket; online PIN: Issuer Authentication Data)
 *   opt online PIN
 *     Phone->>Card: EXTERNAL AUTHENTICATE (ARPC, CSU: PIN tries left in the one budget)
 *   end
 *   Note over Phone: shopper confirms items and sum
 *   Phone->>Card: GENERATE AC (amount, UN)
 *   Phone->>Till: Payment (sealed)
 *   Till-->>Phone: Receipt (signed by the settlement server)
 * ```
 */
import {
  assertNever,
  authenticateCardData,
  cvmMethodOf,
  signedOutcomeOf,
  declineText,
  isDeclineCode,
  sealPin,
  startPhoneHandshake,
  verifyReceipt,
  verifyOfflineReceipt,
  pinSealContext,
  type OfflineReceipt,
  type BleBody,
  type CardAuth,
  type DeclineCode,
  type Money,
  type Receipt,
  type RsaPublicKey,
  type TillIdentity,
} from '@bluetill/protocol';
import type { BiometricSensor } from '../ports/biometric-sensor';
import type { CardVerificationResult } from './card/card-exchange';
import type { KeyObject } from 'node:crypto';
import type { CentralLink } from '../ports/ble-central';
import type { PaymentCard } from '../ports/payment-card';
import type { ShopperBackend } from '../ports/shopper-backend';
import type { Prompt } from '../ports/prompt';
import { MessageInbox } from './message-inbox';
import { giveCardIssuerAnswer } from './issuer-answer';
import { PhoneError } from './phone-error';
import { readCardOver } from './read-card-over';

export type PaymentOutcome =
  | { readonly kind: 'approved'; readonly receipt: Receipt }
  /**
   * The till could not reach the card company and approved the sale offline: its own signed word
   * (verified under the till's certificate key), "to be confirmed by the card company", which
   * will settle it or record it as the merchant's loss once the till forwards it.
   */
  | { readonly kind: 'approved_offline'; readonly receipt: OfflineReceipt }
  | {
      readonly kind: 'declined';
      readonly reason: DeclineCode;
      readonly text: string;
      readonly pinTriesLeft?: number;
      /** When the card refused the cardholder verification: the tries its counter has left for that method. */
      readonly triesLeft?: number;
      readonly receipt?: Receipt;
    }
  /** Cancelled by the shopper before any cryptogram, or by the till with the settlement server's signed cancellation (receipt). */
  | { readonly kind: 'cancelled'; readonly receipt?: Receipt }
  | {
      readonly kind: 'failed';
      readonly code: string;
      readonly message: string;
      /** For code till_error: the code of the till's Error message. */
      readonly tillCode?: string;
      readonly charged: 'no' | 'unknown';
      /** When charged is 'unknown': what retrieveReceipt() needs to ask the till on a new connection. */
      readonly resume?: ResumeTicket;
    };

/** Proof that this phone made a payment, to fetch its outcome after a lost link. */
export interface ResumeTicket {
  readonly terminalTxnId: string;
  readonly resumeToken: Uint8Array;
  /** The till's terminal id (its verified certificate's subject): to ask the card company without the till. */
  readonly terminalId?: string;
  /** The sum the shopper confirmed and the ATC of the card's cryptogram (the signed answer must name them). */
  readonly total?: Money;
  readonly atc?: number;
}

export interface PayOptions {
  readonly link: CentralLink;
  readonly card: PaymentCard;
  readonly prompt: Prompt;
  readonly trust: { readonly acquirerCa: KeyObject; readonly cardCompanyRoot: KeyObject };
  readonly now?: () => number;
  /** How long to wait for each answer from the till. */
  readonly answerTimeoutMs?: number;
  /**
   * How the cardholder is verified (claims 10, 16, 17); default the online PIN (typed, sealed to
   * the authorization server's PIN key). The others are checked by the card (VERIFY), which
   * records the result in the CVR its cryptogram covers.
   */
  readonly cvm?: CardholderVerification;
  /**
   * Offline data authentication on the phone (claim 10): with the scheme CA keys the phone holds,
   * the card's certificates and its signature over the UN are checked before any card data
   * leaves the phone; a card that fails ends the payment with nothing sent.
   */
  readonly oda?: { readonly caKeys: ReadonlyMap<number, RsaPublicKey> };
  /**
   * Test hook: lets an attacker-model phone edit the CardAuth or the Payment before it is sent, or
   * the issuer's answer before the card gets it (undefined: withheld).
   */
  readonly tamper?: {
    cardAuth?: (c: CardAuth) => void | Promise<void>;
    issuerAuthentication?: (data: Uint8Array) => Uint8Array | undefined;
    payment?: (p: Extract<BleBody, { $case: 'payment' }>['value']) => void | Promise<void>;
  };
}

/** Where the secret for each cardholder verification method comes from. */
export type CardholderVerification =
  | { readonly method: 'online_pin' }
  /** The PIN typed on the phone (prompt.pin), checked by the card: VERIFY P2 80. */
  | { readonly method: 'offline_pin' }
  /** A fingerprint from the phone's sensor, matched on the card: VERIFY P2 90. */
  | { readonly method: 'biometric'; readonly sensor: BiometricSensor }
  /** The knowledge secret, checked by the card: VERIFY P2 91. */
  | { readonly method: 'knowledge'; readonly secret: () => Promise<string> };

export type { TillIdentity };

/** The longest a till's TillStatus may stretch one wait (a till cannot keep a phone forever). */
const MAX_STATUS_WAIT_MS = 120_000;

/** A till's status words as the phone shows them: no control characters, one short line. */
export function statusWords(message: string): string {
  const line = [...message]
    .map((ch) =>
      ch.charCodeAt(0) < 0x20 || (ch.charCodeAt(0) >= 0x7f && ch.charCodeAt(0) <= 0x9f) ? ' ' : ch,
    )
    .join('')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, 200);
  return line === '' ? 'The till is still working on this payment.' : line;
}

type ValueOf<C extends BleBody['$case']> = Extract<BleBody, { $case: C }>['value'];

/**
 * A conversation with one till: its inbox, and waiting for one kind of message (an Error from the
 * till throws). The till's TillStatus on the way says why its answer is late (`onStatus`, in
 * words for the shopper) and how much longer it may take: the wait goes on that much longer.
 */
function conversation(
  link: CentralLink,
  now: () => number,
  timeoutMs: number,
  onStatus: (message: string) => void = () => undefined,
) {
  const inbox = new MessageInbox(link, now);
  const expect = async <C extends BleBody['$case']>(c: C): Promise<ValueOf<C>> => {
    let body: BleBody = await inbox.next(timeoutMs);
    while (body.$case === 'status' && c !== 'status') {
      onStatus(body.value.message);
      body = await inbox.next(Math.min(body.value.waitMs, MAX_STATUS_WAIT_MS) + timeoutMs);
    }
    if (body.$case === 'error')
      throw new PhoneError('till_error', `${body.value.code}: ${body.value.message}`, {
        tillCode: body.value.code,
      });
    if (body.$case !== c) throw new PhoneError('protocol', `expected ${c}, got ${body.$case}`);
    return body.value as unknown as ValueOf<C>;
  };
  return { inbox, expect };
}

/** Hello / HelloAck: the till proves who it is; from here every message is sealed. */
async function secure(c: ReturnType<typeof conversation>, trust: PayOptions['trust'], now: () => number) {
  const hs = startPhoneHandshake();
  await c.inbox.stream.send({ $case: 'hello', value: hs.hello });
  const ack = await c.expect('helloAck');
  let secured;
  try {
    secured = hs.finish(ack, { ...trust, now: now() });
  } catch (e) {
    throw new PhoneError('till_untrusted', 'this till could not prove who it is; no card data was sent', {
      cause: e,
    });
  }
  c.inbox.stream.secure(secured.channel);
  return secured;
}

export async function pay(o: PayOptions): Promise<PaymentOutcome> {
  const now = o.now ?? Date.now;
  const c = conversation(o.link, now, o.answerTimeoutMs ?? 15_000, (m) => o.prompt.progress(statusWords(m)));
  const { inbox, expect } = c;
  let paymentSent = false;
  let resume: ResumeTicket | undefined;
  try {
    o.card.prepare?.().catch(() => undefined); // the card's part without the UN, beside Hello (a no-op when begun already)
    o.prompt.progress('Securing the connection');
    const secured = await secure(c, o.trust, now);
    o.prompt.merchant(secured.terminal.merchantName);

    o.prompt.progress('Reading card');
    const un = secured.unpredictableNumber;
    if (secured.offline) {
      // Offline: only the card can verify the cardholder (an online PIN becomes the card's own
      // PIN check) and only the card's TC, checked by the till, can pay.
      const chosen = o.cvm ?? { method: 'online_pin' };
      const offlineCvm: Exclude<CardholderVerification, { method: 'online_pin' }> =
        chosen.method === 'online_pin' ? { method: 'offline_pin' } : chosen;
      if (!o.card.startOfflineSale || !o.card.generateOfflineTc) {
        await inbox.stream
          .send({ $case: 'error', value: { code: 'card_error', message: 'this card cannot pay offline' } })
          .catch(() => undefined);
        return declined('card_company_unreachable');
      }
      let offlineCard;
      try {
        offlineCard = await o.card.read(un);
      } catch (e) {
        await inbox.stream
          .send({ $case: 'error', value: { code: 'card_error', message: 'card could not be read' } })
          .catch(() => undefined);
        throw new PhoneError('card', `card could not be read: ${(e as Error).message}`, { cause: e });
      }
      await inbox.stream.send({
        $case: 'cardAuth',
        value: {
          card: offlineCard,
          sealedPinBlock: new Uint8Array(),
          cvmMethod: cvmMethodOf(offlineCvm.method),
        },
      });
      const offlineAuth = await expect('authResult');
      if (!offlineAuth.approved) return declined(offlineAuth.declineReason);
      const offlineTotal = offlineAuth.total!;
      const agreed = await o.prompt.confirm({
        merchantName: secured.terminal.merchantName,
        items: offlineAuth.items,
        total: offlineTotal,
      });
      if (!agreed) {
        await inbox.stream.send({
          $case: 'error',
          value: { code: 'cancelled', message: 'shopper cancelled' },
        });
        return { kind: 'cancelled' };
      }
      o.prompt.progress('Paying offline');
      const sale = { amount: offlineTotal, unpredictableNumber: un };
      await o.card.startOfflineSale(sale);
      const refused = await verifyOnCard(o, offlineCvm);
      if (refused) {
        await inbox.stream
          .send({
            $case: 'error',
            value: { code: 'cvm_failed', message: 'cardholder verification failed on the card' },
          })
          .catch(() => undefined);
        return refused;
      }
      const offlineTc = await o.card.generateOfflineTc(sale);
      paymentSent = true;
      await inbox.stream.send({
        $case: 'payment',
        value: {
          terminalTxnId: offlineAuth.terminalTxnId,
          card: undefined,
          total: offlineTotal,
          items: offlineAuth.items,
          cryptogram: undefined,
          offlineTc,
        },
      });
      const answer = await expect('receipt');
      if (!answer.approved || !answer.offlineReceipt)
        return declined(answer.declineReason || 'card_company_unreachable');
      try {
        return {
          kind: 'approved_offline',
          receipt: verifyOfflineReceipt(answer.offlineReceipt, {
            terminalId: secured.terminal.subjectId,
            publicKey: secured.terminal.publicKey,
          }),
        };
      } catch (e) {
        throw new PhoneError('protocol', 'the till’s offline receipt does not verify', { cause: e });
      }
    }
    const cvm = o.cvm ?? { method: 'online_pin' };
    let card;
    try {
      // Online PIN: the card's account-verification ARQC goes with it (the issuer judges no PIN without it).
      card = await o.card.read(un, cvm.method === 'online_pin' ? { authorizationCryptogram: true } : {});
    } catch (e) {
      await inbox.stream
        .send({ $case: 'error', value: { code: 'card_error', message: 'card could not be read' } })
        .catch(() => undefined);
      throw new PhoneError('card', `card could not be read: ${(e as Error).message}`, { cause: e });
    }
    if (o.oda) {
      const oda = authenticateCardData({
        card,
        unpredictableNumber: un,
        caKeys: o.oda.caKeys,
        now: new Date(now()),
      });
      if (!oda.ok) {
        await inbox.stream
          .send({
            $case: 'error',
            value: { code: 'card_error', message: 'card failed offline data authentication' },
          })
          .catch(() => undefined);
        throw new PhoneError(
          'card_unauthentic',
          `the card failed offline data authentication (${oda.reason.replaceAll('_', ' ')}): it is not a genuine card of a scheme this phone trusts; no card data was sent`,
        );
      }
    }
    let cardAuth: CardAuth;
    if (cvm.method === 'online_pin') {
      if (!secured.pinKey)
        throw new PhoneError('protocol', 'the till is offline: no online PIN can be taken now');
      const pin = await o.prompt.pin();
      const sealedPinBlock = sealPin({
        pin,
        pan: card.pan,
        pinKey: secured.pinKey.publicKey,
        pinKeyId: secured.pinKey.subjectId,
        context: pinSealContext(un, secured.terminal.subjectId),
      });
      cardAuth = { card, sealedPinBlock };
    } else {
      const tellTill = () =>
        inbox.stream
          .send({
            $case: 'error',
            value: { code: 'cvm_failed', message: 'cardholder verification failed on the card' },
          })
          .catch(() => undefined);
      const refused = await verifyOnCard(o, cvm).catch(async (e: unknown) => {
        await tellTill();
        throw e;
      });
      if (refused) {
        await tellTill();
        return refused;
      }
      cardAuth = { card, sealedPinBlock: new Uint8Array(), cvmMethod: cvmMethodOf(cvm.method) };
    }
    await o.tamper?.cardAuth?.(cardAuth);
    o.prompt.progress(cvm.method === 'online_pin' ? 'Checking card and PIN' : 'Checking card');
    await inbox.stream.send({ $case: 'cardAuth', value: cardAuth });
    const auth = await expect('authResult');
    // The issuer's answer goes to the card (EXTERNAL AUTHENTICATE) while the shopper reads the
    // basket: the card has taken it before anything more is asked of it and before the flow ends.
    const issuerAnswered = auth.issuerAuthenticationData?.length
      ? giveCardIssuerAnswer(
          o.card,
          o.tamper?.issuerAuthentication
            ? o.tamper.issuerAuthentication(auth.issuerAuthenticationData)
            : auth.issuerAuthenticationData,
        )
      : Promise.resolve();
    if (!auth.approved) {
      await issuerAnswered;
      return declined(auth.declineReason, auth.pinTriesLeft);
    }

    resume = {
      terminalTxnId: auth.terminalTxnId,
      resumeToken: auth.resumeToken,
      terminalId: secured.terminal.subjectId,
    };
    const total = auth.total!;
    let ok: boolean;
    try {
      ok = await o.prompt.confirm({
        merchantName: secured.terminal.merchantName,
        items: auth.items,
        total,
      });
    } finally {
      await issuerAnswered;
    }
    if (!ok) {
      await inbox.stream.send({ $case: 'error', value: { code: 'cancelled', message: 'shopper cancelled' } });
      return { kind: 'cancelled' };
    }
    o.prompt.progress('Paying');
    const cryptogram = await o.card.generateAc({ amount: total, unpredictableNumber: un });
    // The till holds the card's records and signature from CardAuth: the Payment names the card only.
    const { authorizationCryptogram: _verification, ...named } = card;
    const payment = {
      terminalTxnId: auth.terminalTxnId,
      card: { ...named, records: new Uint8Array(), signedDynamicData: new Uint8Array() },
      total,
      items: auth.items,
      cryptogram,
    };
    await o.tamper?.payment?.(payment);
    const atc = payment.cryptogram?.atc ?? cryptogram.atc;
    resume = { ...resume, total, atc };
    // Once the Payment is handed to the link, a failed write does not say it did not arrive (a write
    // request can reach the till and its answer be lost): the outcome is unknown and the phone asks.
    // Only a link already known to be gone cannot have carried it.
    const lostBefore = inbox.linkLost;
    paymentSent = true;
    try {
      await inbox.stream.send({ $case: 'payment', value: payment });
    } catch (e) {
      if (lostBefore) paymentSent = false;
      throw e;
    }
    return outcomeOf(await expect('receipt'), o.trust, now, {
      terminalId: secured.terminal.subjectId,
      terminalTxnId: auth.terminalTxnId,
      total,
      atc,
    });
  } catch (e) {
    if (!(e instanceof PhoneError)) throw e;
    // Once the Payment (with its cryptogram) may have reached the till, only the settlement
    // server's signature says what became of it: anything else — an error, an unsigned decline, a
    // lost link — leaves the outcome unknown, to be asked. Before that the till holds no
    // cryptogram of this card for this payment, so it has nothing it could settle.
    const outcomeUnknown = paymentSent;
    return {
      kind: 'failed',
      code: e.code,
      message: e.message,
      ...(e.tillCode !== undefined ? { tillCode: e.tillCode } : {}),
      charged: outcomeUnknown ? 'unknown' : 'no',
      ...(outcomeUnknown && resume ? { resume } : {}),
    };
  } finally {
    inbox.stream.close();
  }
}

/**
 * The card checks the cardholder itself (VERIFY in the same card session). A refusal is the
 * payment's outcome (declined, nothing sent); undefined when the card accepted.
 */
async function verifyOnCard(
  o: PayOptions,
  cvm: Exclude<CardholderVerification, { method: 'online_pin' }>,
): Promise<PaymentOutcome | undefined> {
  if (!o.card.verifyCardholder)
    throw new PhoneError(
      'cvm_unsupported',
      `this card cannot verify the cardholder by ${cvm.method.replace('_', ' ')}; nothing was sent`,
    );
  let result: CardVerificationResult;
  try {
    switch (cvm.method) {
      case 'offline_pin': {
        const pin = await o.prompt.pin();
        o.prompt.progress('The card checks the PIN');
        result = await o.card.verifyCardholder({ method: 'offline_pin', pin });
        break;
      }
      case 'biometric': {
        o.prompt.progress('Place your finger on the sensor');
        const template = await cvm.sensor.capture();
        o.prompt.progress('The card checks the fingerprint');
        result = await o.card.verifyCardholder({ method: 'biometric', template });
        break;
      }
      case 'knowledge': {
        const secret = await cvm.secret();
        o.prompt.progress('The card checks the secret');
        result = await o.card.verifyCardholder({ method: 'knowledge', secret });
        break;
      }
    }
  } catch (e) {
    if (e instanceof PhoneError) throw e;
    throw new PhoneError('card', `the card could not verify the cardholder: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (result.ok) return undefined;
  const pin = cvm.method === 'offline_pin';
  switch (result.reason) {
    case 'not_supported':
      throw new PhoneError(
        'cvm_unsupported',
        `this card holds no ${pin ? 'offline PIN' : cvm.method === 'biometric' ? 'fingerprint template' : 'knowledge secret'}; nothing was sent`,
      );
    case 'blocked':
      return declined(pin ? 'pin_tries_exceeded' : 'cvm_tries_exceeded', pin ? 0 : undefined, undefined, 0);
    case 'incorrect':
      return declined(
        pin ? 'pin_incorrect' : 'cvm_failed',
        pin ? result.triesLeft : undefined,
        undefined,
        result.triesLeft,
      );
  }
}

export interface RetrieveOptions {
  readonly link: CentralLink;
  readonly trust: PayOptions['trust'];
  readonly ticket: ResumeTicket;
  readonly now?: () => number;
  readonly answerTimeoutMs?: number;
}

/**
 * After a lost link: a new secure session with the same till, asking what became of the payment.
 * The answer is the signed receipt (charged or declined), or that nothing was charged.
 */
export async function retrieveReceipt(o: RetrieveOptions): Promise<PaymentOutcome> {
  const now = o.now ?? Date.now;
  const c = conversation(o.link, now, o.answerTimeoutMs ?? 20_000);
  try {
    const secured = await secure(c, o.trust, now);
    await c.inbox.stream.send({
      $case: 'receiptRequest',
      value: { terminalTxnId: o.ticket.terminalTxnId, resumeToken: o.ticket.resumeToken },
    });
    return outcomeOf(await c.expect('receipt'), o.trust, now, {
      terminalId: secured.terminal.subjectId,
      terminalTxnId: o.ticket.terminalTxnId,
      ...(o.ticket.total ? { total: o.ticket.total } : {}),
      ...(o.ticket.atc !== undefined ? { atc: o.ticket.atc } : {}),
    });
  } catch (e) {
    if (!(e instanceof PhoneError)) throw e;
    // The till saying "not charged" is not signed: the outcome stays unknown (ask the card company).
    return {
      kind: 'failed',
      code: e.code,
      message: e.message,
      ...(e.tillCode !== undefined ? { tillCode: e.tillCode } : {}),
      charged: 'unknown',
      resume: o.ticket,
    };
  } finally {
    c.inbox.stream.close();
  }
}

/**
 * The till's ReceiptMessage as an outcome, from the settlement server's signature alone: the till's
 * own `approved` flag and decline reason are ignored. The signed receipt must be a sale's, of this
 * till (its certificate's terminal id), of this payment (its terminal transaction id, the sum the
 * shopper confirmed, the ATC of the card's cryptogram when it names one); its `result` is the
 * outcome. No signed receipt: the outcome is unknown (PhoneError 'outcome_unknown').
 */
export function outcomeOf(
  result: ValueOf<'receipt'>,
  trust: PayOptions['trust'],
  now: () => number,
  expected: { terminalId: string; terminalTxnId: string; total?: Money; atc?: number },
): PaymentOutcome {
  if (!result.receipt)
    throw new PhoneError(
      'outcome_unknown',
      'the till answered with an outcome the payment network did not sign',
    );
  let receipt: Receipt;
  try {
    receipt = verifyReceipt(result.receipt, trust.cardCompanyRoot, now());
  } catch (e) {
    throw new PhoneError('receipt_invalid', 'the receipt is not signed by the payment network', { cause: e });
  }
  const t = expected.total;
  if (
    (receipt.kind !== '' && receipt.kind !== 'sale') ||
    receipt.terminalId !== expected.terminalId ||
    receipt.terminalTxnId !== expected.terminalTxnId ||
    (t && (receipt.total?.minor !== t.minor || receipt.total?.currency !== t.currency)) ||
    (expected.atc !== undefined && receipt.atc !== 0 && receipt.atc !== expected.atc)
  )
    throw new PhoneError('receipt_mismatch', 'the till sent the signed receipt of another payment');
  const signed = signedOutcomeOf(receipt);
  switch (signed) {
    case 'approved':
      return { kind: 'approved', receipt };
    case 'declined':
      return declined(receipt.declineReason, undefined, receipt);
    case 'cancelled':
      return { kind: 'cancelled', receipt };
    case null:
      throw new PhoneError('outcome_unknown', 'the signed receipt states no outcome this phone knows');
    default:
      return assertNever(signed, 'signed outcome');
  }
}

export interface AskOptions {
  readonly backend: ShopperBackend;
  readonly card: PaymentCard;
  readonly trust: PayOptions['trust'];
  /** The unknown payment's ticket: it names the till, the transaction, the sum and the cryptogram's ATC. */
  readonly ticket: ResumeTicket;
  readonly now?: () => number;
}

/**
 * The outcome from the card company itself, with no till in between (Shopper.GetOutcome): the
 * card proves itself over the backend's UN, and the answer is a signed receipt of this payment —
 * the settlement server's outcome, or its cancellation (nothing settled, and now nothing of it
 * ever will: its counter moved past this cryptogram). Checked like the till's answer.
 */
export async function askOutcome(o: AskOptions): Promise<PaymentOutcome> {
  const now = o.now ?? Date.now;
  const t = o.ticket;
  if (!t.terminalId || t.atc === undefined || !t.total)
    throw new PhoneError('protocol', 'the ticket does not name the till, the sum and the cryptogram');
  const ch = await o.backend.challenge();
  const card = await readCardOver(o.card, ch.unpredictableNumber);
  const res = await o.backend.getOutcome({
    unpredictableNumber: ch.unpredictableNumber,
    card,
    terminalId: t.terminalId,
    terminalTxnId: t.terminalTxnId,
    atc: t.atc,
    amount: t.total,
  });
  if (!res.receipt)
    throw new PhoneError(
      'outcome_unknown',
      `the payment network gave no signed outcome (${res.declineReason || 'none'})`,
    );
  return outcomeOf(
    { approved: res.approved, declineReason: res.declineReason, receipt: res.receipt },
    o.trust,
    now,
    { terminalId: t.terminalId, terminalTxnId: t.terminalTxnId, total: t.total, atc: t.atc },
  );
}

function declined(
  reason: string,
  pinTriesLeft?: number,
  receipt?: Receipt,
  triesLeft?: number,
): PaymentOutcome {
  const code: DeclineCode = isDeclineCode(reason) ? reason : 'cancelled';
  return {
    kind: 'declined',
    reason: code,
    text: declineText(code),
    ...(pinTriesLeft !== undefined ? { pinTriesLeft } : {}),
    ...(triesLeft !== undefined ? { triesLeft } : {}),
    ...(receipt ? { receipt } : {}),
  };
}
