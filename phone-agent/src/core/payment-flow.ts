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
 *   Note over Phone: verify till before any card data leaves
 *   Phone->>Card: read records, INTERNAL AUTHENTICATE(UN)
 *   Note over Phone: PIN typed, sealed to the PIN key
 *   Phone->>Till: CardAuth (sealed)
 *   Till-->>Phone: AuthResult (+ basket)
 *   Note over Phone: shopper confirms items and sum
 *   Phone->>Card: GENERATE AC (amount, UN)
 *   Phone->>Till: Payment (sealed)
 *   Till-->>Phone: Receipt (signed by the settlement server)
 * ```
 */
import {
  declineText, isDeclineCode, sealPin, startPhoneHandshake, verifyReceipt, pinSealContext,
  type BleBody, type DeclineCode, type Receipt, type TillIdentity,
} from '@bluetill/protocol';
import type { KeyObject } from 'node:crypto';
import type { CentralLink } from '../ports/ble-central';
import type { PaymentCard } from '../ports/payment-card';
import type { Prompt } from '../ports/prompt';
import { MessageInbox } from './message-inbox';
import { PhoneError } from './phone-error';

export type PaymentOutcome =
  | { readonly kind: 'approved'; readonly receipt: Receipt }
  | { readonly kind: 'declined'; readonly reason: DeclineCode; readonly text: string; readonly pinTriesLeft?: number; readonly receipt?: Receipt }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string; readonly charged: 'no' | 'unknown' };

export interface PayOptions {
  readonly link: CentralLink;
  readonly card: PaymentCard;
  readonly prompt: Prompt;
  readonly trust: { readonly acquirerCa: KeyObject; readonly cardCompanyRoot: KeyObject };
  readonly now?: () => number;
  /** How long to wait for each answer from the till. */
  readonly answerTimeoutMs?: number;
  /** Test hook: lets an attacker-model phone edit the Payment before it is sent. */
  readonly tamper?: { payment?: (p: Extract<BleBody, { $case: 'payment' }>['value']) => void | Promise<void> };
}

export type { TillIdentity };

export async function pay(o: PayOptions): Promise<PaymentOutcome> {
  const now = o.now ?? Date.now;
  const timeout = o.answerTimeoutMs ?? 15_000;
  const inbox = new MessageInbox(o.link, now);
  let paymentSent = false;
  type ValueOf<C extends BleBody['$case']> = Extract<BleBody, { $case: C }>['value'];
  const expect = async <C extends BleBody['$case']>(c: C): Promise<ValueOf<C>> => {
    const body: BleBody = await inbox.next(timeout);
    if (body.$case === 'error') throw new PhoneError('till_error', `${body.value.code}: ${body.value.message}`);
    if (body.$case !== c) throw new PhoneError('protocol', `expected ${c}, got ${body.$case}`);
    return body.value as unknown as ValueOf<C>;
  };
  try {
    o.prompt.progress('Securing the connection');
    const hs = startPhoneHandshake();
    await inbox.stream.send({ $case: 'hello', value: hs.hello });
    const ack = await expect('helloAck');
    let secured;
    try {
      secured = hs.finish(ack, { ...o.trust, now: now() });
    } catch (e) {
      throw new PhoneError('till_untrusted', 'this till could not prove who it is; no card data was sent', { cause: e });
    }
    inbox.stream.secure(secured.channel);
    o.prompt.merchant(secured.terminal.merchantName);

    o.prompt.progress('Reading card');
    const un = secured.unpredictableNumber;
    let card;
    try {
      card = await o.card.read(un);
    } catch (e) {
      await inbox.stream.send({ $case: 'error', value: { code: 'card_error', message: 'card could not be read' } }).catch(() => undefined);
      throw new PhoneError('card', `card could not be read: ${(e as Error).message}`, { cause: e });
    }
    const pin = await o.prompt.pin();
    const sealedPinBlock = sealPin({ pin, pan: card.pan, pinKey: secured.pinKey.publicKey, pinKeyId: secured.pinKey.subjectId, context: pinSealContext(un, secured.terminal.subjectId) });
    o.prompt.progress('Checking card and PIN');
    await inbox.stream.send({ $case: 'cardAuth', value: { card, sealedPinBlock } });
    const auth = await expect('authResult');
    if (!auth.approved) return declined(auth.declineReason, auth.pinTriesLeft);

    const total = auth.total!;
    const ok = await o.prompt.confirm({ merchantName: secured.terminal.merchantName, items: auth.items, total });
    if (!ok) {
      await inbox.stream.send({ $case: 'error', value: { code: 'cancelled', message: 'shopper cancelled' } });
      return { kind: 'cancelled' };
    }
    o.prompt.progress('Paying');
    const cryptogram = await o.card.generateAc({ amount: total, unpredictableNumber: un });
    const payment = { terminalTxnId: auth.terminalTxnId, card, total, items: auth.items, cryptogram };
    await o.tamper?.payment?.(payment);
    paymentSent = true;
    await inbox.stream.send({ $case: 'payment', value: payment });
    const result = await expect('receipt');
    if (!result.receipt) return declined(result.declineReason);
    let receipt: Receipt;
    try {
      receipt = verifyReceipt(result.receipt, o.trust.cardCompanyRoot, now());
    } catch (e) {
      throw new PhoneError('receipt_invalid', 'the receipt is not signed by the payment network', { cause: e });
    }
    if (!result.approved) return declined(result.declineReason, undefined, receipt);
    return { kind: 'approved', receipt };
  } catch (e) {
    if (!(e instanceof PhoneError)) throw e;
    const outcomeUnknown = paymentSent && (e.code === 'link_lost' || e.code === 'timeout' || e.message.startsWith('outcome_unknown'));
    return { kind: 'failed', code: e.code, message: e.message, charged: outcomeUnknown ? 'unknown' : 'no' };
  } finally {
    inbox.stream.close();
  }
}

function declined(reason: string, pinTriesLeft?: number, receipt?: Receipt): PaymentOutcome {
  const code: DeclineCode = isDeclineCode(reason) ? reason : 'cancelled';
  return { kind: 'declined', reason: code, text: declineText(code), ...(pinTriesLeft !== undefined ? { pinTriesLeft } : {}), ...(receipt ? { receipt } : {}) };
}
