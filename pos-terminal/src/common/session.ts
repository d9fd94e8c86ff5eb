/**
 * One phone's session at the till, from connect to receipt. Each session owns its message
 * stream and handles its messages one at a time; sessions never wait for each other (claim 14).
 *
 * ```mermaid
 * stateDiagram-v2
 *   [*] --> connected
 *   connected --> secured: Hello / HelloAck (UN from the backend; offline: the till's own)
 *   secured --> authorizing: CardAuth
 *   secured --> approved: ReceiptRequest (after a lost link)
 *   secured --> declined: ReceiptRequest (after a lost link)
 *   authorizing --> authorized: approved (AuthResult + basket; offline: the card verifies the cardholder)
 *   authorizing --> waiting_for_basket: approved, no basket waiting (TillStatus to the phone)
 *   waiting_for_basket --> authorized: a basket charged or assigned (AuthResult + basket)
 *   waiting_for_basket --> failed: none within the wait limit (Error no_basket), or cancelled
 *   authorizing --> declined: declined
 *   authorized --> paying: Payment
 *   paying --> approved: settled (Receipt); offline: the TC approved and journaled (till-signed receipt)
 *   paying --> declined: basket mismatch (signed by Cancel) or backend decline
 *   paying --> failed: outcome unknown (journal resolves it)
 *   connected --> failed: bad frame / bad message / backend down
 *   approved --> closed
 *   declined --> closed
 *   failed --> closed
 * ```
 */
import {
  acceptHello,
  checkHello,
  type CancelReason,
  type Cryptogram,
  cvmNameOf,
  maskPan,
  MessageStream,
  ProtocolError,
  assertNever,
  type BleBody,
  type CardAuth,
  type CardData,
  type DeclineCode,
  type Hello,
  type Payment,
  type Receipt,
  type ReceiptRequest,
  type SettleResponse,
} from '@bluetill/protocol';
import { Receipt as ReceiptCodec } from '@bluetill/protocol';
import type { PeripheralLink } from './ports/ble-peripheral';
import { BackendError } from './ports/backend-client';
import { checkAgainstBasket, type Basket } from './basket';
import type { TillContext } from './till-context';
import type { SessionSnapshot, SessionState } from './session-snapshot';
import { OfflineDesk } from './offline/offline-desk';

export type { SessionSnapshot, SessionState } from './session-snapshot';

const NEXT: Readonly<Record<SessionState, readonly SessionState[]>> = {
  connected: ['secured', 'failed', 'closed'],
  // secured → approved/declined: a phone back after a lost link fetched its payment's outcome.
  secured: ['authorizing', 'approved', 'declined', 'failed', 'closed'],
  authorizing: ['authorized', 'waiting_for_basket', 'declined', 'failed', 'closed'],
  waiting_for_basket: ['authorized', 'failed', 'closed'],
  authorized: ['paying', 'declined', 'failed', 'closed'],
  paying: ['approved', 'declined', 'failed', 'closed'],
  approved: ['closed'],
  declined: ['closed'],
  failed: ['closed'],
  closed: [],
};

/** What the settlement needs of the card a phone showed (settlement-service checks PAN, expiry and PAN sequence). */
export function settlementCard(card: CardData): CardData {
  return {
    pan: card.pan,
    expiry: card.expiry,
    panSequence: card.panSequence,
    cardholderName: '',
    records: new Uint8Array(),
    signedDynamicData: new Uint8Array(),
  };
}

export class PhoneSession {
  private state: SessionState = 'connected';
  private readonly stream: MessageStream;
  private queue: Promise<void> = Promise.resolve();
  private un: Uint8Array | null = null;
  private card: CardData | null = null;
  private authorizationRef = '';
  private txnId = '';
  private basket: Basket | null = null;
  private decline: DeclineCode | null = null;
  /** The authorized payment went on to the settlement server (its Payment arrived, or it is being cancelled). */
  private handedOn = false;
  private detail = '';
  /**
   * The card company was unreachable at the Hello (no connection, typed by the backend client):
   * the UN is the till's own, no Authorize is asked, and only the card's TC with CDA, checked by
   * the offline desk within the merchant's limits, can pay the basket.
   */
  private offline = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly startedAt: number;
  /** While the session waits for a basket: stops that wait (the phone left or was cancelled). */
  private stopWaiting: (() => void) | null = null;

  constructor(
    readonly link: PeripheralLink,
    private readonly ctx: TillContext,
    private readonly onClosed: (s: PhoneSession) => void,
  ) {
    this.startedAt = ctx.clock.now();
    this.stream = new MessageStream({
      send: (v) => link.notify(v),
      mtu: () => link.mtu,
      maxMessageSize: ctx.limits.maxMessageSize,
      reassemblyTimeoutMs: ctx.limits.reassemblyTimeoutMs,
    });
    link.onValue((v) => this.onValue(v));
    link.onDisconnect((reason) => this.close(`disconnected: ${reason}`));
    this.timer = setInterval(() => this.tick(), 250);
    this.timer.unref?.();
    this.emit();
  }

  get id(): string {
    return this.link.id;
  }

  snapshot(): SessionSnapshot {
    return {
      id: this.id,
      state: this.state,
      basketId: this.basket?.id ?? null,
      maskedPan: this.card ? maskPan(this.card.pan) : null,
      decline: this.decline,
      detail: this.detail,
    };
  }

  private onValue(value: Uint8Array): void {
    if (this.state === 'closed' || this.state === 'failed') return;
    let body: BleBody | null;
    try {
      body = this.stream.receive(value, this.ctx.clock.now());
    } catch (error) {
      this.protocolFailure(error);
      return;
    }
    if (body) {
      const msg = body;
      this.queue = this.queue.then(() => this.handle(msg)).catch((error: unknown) => this.unexpected(error));
    }
  }

  private tick(): void {
    const now = this.ctx.clock.now();
    try {
      this.stream.tick(now);
    } catch (error) {
      this.protocolFailure(error);
      return;
    }
    if (now - this.startedAt > this.ctx.limits.sessionTimeoutMs && this.state !== 'closed') {
      this.detail = 'session timed out';
      void this.end('failed');
    }
  }

  private async handle(body: BleBody): Promise<void> {
    switch (body.$case) {
      case 'hello':
        return this.onHello(body.value);
      case 'cardAuth':
        return this.onCardAuth(body.value);
      case 'payment':
        return this.onPayment(body.value);
      case 'receiptRequest':
        return this.onReceiptRequest(body.value);
      case 'error':
        this.detail = `phone: ${body.value.code}`;
        this.decline = body.value.code === 'cancelled' ? 'cancelled' : this.decline;
        return this.end(this.state === 'approved' ? 'approved' : 'failed');
      case 'helloAck':
      case 'authResult':
      case 'receipt':
      case 'status':
      case 'sealed':
        return this.refuse('unexpected_message', `${body.$case} is not sent by a phone`);
      default:
        return assertNever(body, 'message');
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    if (this.state !== 'connected') return this.refuse('unexpected_message', 'Hello after the handshake');
    // Nothing is spent on a Hello that cannot lead anywhere (a backend Challenge, a basket), and
    // the Challenges that a stream of new links can cost the backend are rate limited.
    try {
      checkHello(hello);
    } catch (error) {
      return this.protocolFailure(error);
    }
    if (!this.ctx.admitHello()) return this.refuse('busy', 'The till is busy; try again in a moment');
    let challenge;
    try {
      challenge = await this.ctx.backend.challenge();
    } catch (error) {
      // Only a card company that cannot be reached at all (not a slow one) turns a till offline.
      if (!(error instanceof BackendError && error.unreachable && this.ctx.offline)) throw error;
      challenge = {
        unpredictableNumber: OfflineDesk.unpredictableNumber(),
        pinKeyCertificate: new Uint8Array(),
        terminalStatement: new Uint8Array(),
      };
      this.offline = true;
      this.detail = 'offline: the card company is unreachable';
    }
    if (this.isClosed()) return; // the phone hung up while the backend answered
    this.un = challenge.unpredictableNumber;
    // No basket yet, and nothing of one in the HelloAck (it travels in clear): a basket goes to a
    // phone only once its card has authenticated (onCardAuth), so anonymous links hold none.
    let accepted;
    try {
      accepted = acceptHello(hello, this.ctx.identity, {
        unpredictableNumber: challenge.unpredictableNumber,
        pinKeyCertificate: challenge.pinKeyCertificate,
        terminalStatement: challenge.terminalStatement,
        amount: undefined,
        offline: this.offline,
      });
    } catch (error) {
      return this.protocolFailure(error);
    }
    // The HelloAck is encoded in clear when send() is called; the channel is keyed before any of it
    // leaves, so a phone that answers at once finds the session secured, not mid-handshake.
    const acked = this.stream.send({ $case: 'helloAck', value: accepted.ack });
    this.stream.secure(accepted.channel);
    this.move('secured');
    await acked;
  }

  private async onCardAuth(auth: CardAuth): Promise<void> {
    if (this.state !== 'secured' || !this.un)
      return this.refuse('unexpected_message', 'CardAuth out of order');
    if (!auth.card) return this.refuse('bad_message', 'CardAuth without card data');
    // The declared cardholder verification is checked at the edge; the backend trusts a method the
    // card checked only when the card's cryptogram shows it (settlement).
    const cvm = cvmNameOf(auth.cvmMethod ?? 0);
    if (!cvm) return this.refuse('bad_message', 'CardAuth with an unknown cardholder verification method');
    if (cvm !== 'online_pin' && auth.sealedPinBlock.length > 0)
      return this.refuse('bad_message', 'CardAuth with a PIN block for a method the card verifies');
    // Kept for the settlement: the card's identity only. Its records and signed dynamic data
    // (kilobytes) served this authorization and are not held, journaled or sent again.
    this.card = settlementCard(auth.card);
    this.move('authorizing');
    if (this.offline) return this.offlineCardAuth(cvm === 'online_pin');
    const res = await this.ctx.backend.authorize({
      terminalId: this.ctx.terminalId,
      unpredictableNumber: this.un,
      card: auth.card,
      sealedPinBlock: auth.sealedPinBlock,
      ...(auth.cvmMethod !== undefined ? { cvmMethod: auth.cvmMethod } : {}),
    });
    if (!res.approved) {
      this.decline = res.declineReason as DeclineCode;
      return this.finish('declined', {
        $case: 'authResult',
        value: {
          approved: false,
          declineReason: res.declineReason,
          pinTriesLeft: res.pinTriesLeft,
          items: [],
          total: undefined,
          terminalTxnId: '',
          resumeToken: new Uint8Array(),
          ...(res.issuerAuthenticationData ? { issuerAuthenticationData: res.issuerAuthenticationData } : {}),
        },
      });
    }
    this.authorizationRef = res.authorizationRef;
    // The card proved itself (its signature over this session's UN, checked by the authorization
    // server): only now does this phone claim a basket.
    this.basket = (await this.waitForBasket()) ?? null;
    // Cancelled by the cashier, or gone, while it waited: that path has told the phone already.
    if (!this.stillWaitingForBasket()) {
      if (this.basket) this.ctx.baskets.release(this.id); // given in the same turn: it waits again
      this.basket = null;
      return;
    }
    if (!this.basket) {
      this.detail = 'no basket was offered in time; nothing was charged';
      return this.finish('failed', {
        $case: 'error',
        value: {
          code: 'no_basket',
          message: 'No basket was offered at the till in time; nothing was charged',
        },
      });
    }
    this.txnId = this.ctx.newTxnId();
    const resumeToken = this.ctx.issueResumeToken(this.txnId, this.basket.id);
    this.move('authorized');
    await this.stream.send({
      $case: 'authResult',
      value: {
        approved: true,
        declineReason: '',
        pinTriesLeft: res.pinTriesLeft,
        items: [...this.basket.items],
        total: this.basket.total,
        terminalTxnId: this.txnId,
        resumeToken,
        ...(res.issuerAuthenticationData ? { issuerAuthenticationData: res.issuerAuthenticationData } : {}),
      },
    });
  }

  /**
   * Offline, the card itself must verify the cardholder (no one can check an online PIN): then
   * the phone gets the basket, as online after Authorize, and its card is asked for a TC.
   */
  private async offlineCardAuth(onlinePin: boolean): Promise<void> {
    const declined = (text: string) => {
      this.decline = 'card_company_unreachable';
      this.detail = text;
      return this.finish('declined', {
        $case: 'authResult',
        value: {
          approved: false,
          declineReason: 'card_company_unreachable',
          pinTriesLeft: 0,
          items: [],
          total: undefined,
          terminalTxnId: '',
          resumeToken: new Uint8Array(),
        },
      });
    };
    if (onlinePin)
      return declined('offline: an online PIN cannot be checked; only the card can verify the cardholder');
    this.basket = (await this.waitForBasket()) ?? null;
    if (!this.basket) {
      this.detail = 'no basket was assigned';
      return this.finish('failed', {
        $case: 'error',
        value: { code: 'no_basket', message: 'The till has no basket for this phone' },
      });
    }
    this.txnId = this.ctx.newTxnId();
    this.move('authorized');
    await this.stream.send({
      $case: 'authResult',
      value: {
        approved: true,
        declineReason: '',
        pinTriesLeft: 0,
        items: [...this.basket.items],
        total: this.basket.total,
        terminalTxnId: this.txnId,
        resumeToken: new Uint8Array(),
      },
    });
  }

  /** Offline: the card's TC goes to the offline desk; approved, it is journaled before the phone hears of it. */
  private async offlinePayment(p: Payment): Promise<void> {
    const basket = this.basket!;
    this.handedOn = true;
    this.move('paying');
    const mismatch =
      p.terminalTxnId !== this.txnId ? 'authorization_invalid' : checkAgainstBasket(basket, p.total, p.items);
    const tc = p.offlineTc;
    const result =
      mismatch || !tc || !this.un
        ? null
        : await this.ctx.offline!.approve({
            request: { requested: 'tc', amount: basket.total, unpredictableNumber: this.un },
            evidence: tc,
            backend: 'unreachable',
            items: basket.items,
          });
    if (!result || !result.approved) {
      this.decline = 'card_company_unreachable';
      this.detail = `declined offline: ${mismatch ?? (tc ? (result && !result.approved ? result.reason : 'no TC') : 'no TC')}`;
      if (mismatch)
        this.ctx.emit({ type: 'mismatch', sessionId: this.id, basketId: basket.id, decline: mismatch });
      return this.finish('declined', {
        $case: 'receipt',
        value: { approved: false, declineReason: 'card_company_unreachable', receipt: undefined },
      });
    }
    this.ctx.baskets.markPaid(basket.id, result.offlineId);
    this.decline = null;
    this.detail = 'approved offline, to be confirmed by the card company';
    return this.finish('approved', {
      $case: 'receipt',
      value: { approved: true, declineReason: '', receipt: undefined, offlineReceipt: result.receipt },
    });
  }

  private async onPayment(p: Payment): Promise<void> {
    if (this.state !== 'authorized' || !this.basket || !this.card)
      return this.refuse('unexpected_message', 'Payment out of order');
    if (this.offline) return this.offlinePayment(p);
    this.handedOn = true;
    this.move('paying');
    const mismatch: DeclineCode | null =
      p.terminalTxnId !== this.txnId
        ? 'authorization_invalid'
        : p.card?.pan !== this.card.pan || p.card?.expiry !== this.card.expiry
          ? 'card_authentication_failed'
          : checkAgainstBasket(this.basket, p.total, p.items);
    if (mismatch) {
      this.decline = mismatch;
      this.detail = 'the phone asked to pay something other than the basket; nothing was charged';
      this.ctx.emit({ type: 'mismatch', sessionId: this.id, basketId: this.basket.id, decline: mismatch });
      // The phone believes only what the settlement server signs, and the till holds a cryptogram:
      // the payment is declined there (signed, its authorization and ATC used up), not here.
      const signed = await this.cancelAtBackend(mismatch as CancelReason, p.cryptogram);
      if (!signed)
        return this.finish('failed', {
          $case: 'error',
          value: {
            code: 'outcome_unknown',
            message: 'The payment network did not confirm the decline; ask again shortly',
          },
        });
      return this.finish('declined', {
        $case: 'receipt',
        value: { approved: signed.approved, declineReason: signed.declineReason, receipt: signed.receipt },
      });
    }
    let res: SettleResponse;
    try {
      res = await this.ctx.settle(this.basket, {
        terminalId: this.ctx.terminalId,
        terminalTxnId: this.txnId,
        merchantId: this.ctx.merchantId,
        authorizationRef: this.authorizationRef,
        card: this.card,
        amount: this.basket.total,
        items: [...this.basket.items],
        cryptogram: p.cryptogram,
      });
    } catch (error) {
      if (!(error instanceof BackendError)) throw error;
      this.decline = 'backend_unavailable';
      this.detail =
        'no answer from the payment network: the till will confirm the outcome; nothing is charged twice';
      return this.finish('failed', {
        $case: 'error',
        value: { code: 'outcome_unknown', message: this.detail },
      });
    }
    this.decline = res.approved ? null : (res.declineReason as DeclineCode);
    return this.finish(res.approved ? 'approved' : 'declined', {
      $case: 'receipt',
      value: { approved: res.approved, declineReason: res.declineReason, receipt: res.receipt },
    });
  }

  /** A phone whose link dropped after its Payment asks what became of it, on a new secure session. */
  private async onReceiptRequest(req: ReceiptRequest): Promise<void> {
    if (this.state !== 'secured') return this.refuse('unexpected_message', 'ReceiptRequest out of order');
    const found = await this.ctx.lookupOutcome(req.terminalTxnId, req.resumeToken);
    switch (found.kind) {
      case 'settled':
        return this.finish(found.response.approved ? 'approved' : 'declined', {
          $case: 'receipt',
          value: {
            approved: found.response.approved,
            declineReason: found.response.declineReason,
            receipt: found.response.receipt,
          },
        });
      case 'not_charged':
        return this.finish('failed', {
          $case: 'error',
          value: {
            code: 'not_charged',
            message: 'This payment never reached the payment network; nothing was charged',
          },
        });
      case 'unknown':
        return this.finish('failed', {
          $case: 'error',
          value: {
            code: 'outcome_unknown',
            message: 'The payment network has not answered yet; ask again shortly',
          },
        });
      case 'refused':
        return this.refuse('bad_resume_token', 'unknown payment or wrong resume token');
      default:
        return assertNever(found, 'outcome');
    }
  }

  /**
   * Ends this session's authorized payment at the settlement server (Settlement.Cancel): signed,
   * journaled, its authorization and the cryptogram's ATC used up. Null when the network did not
   * answer (the journal resolves it later).
   */
  private async cancelAtBackend(
    reason: CancelReason,
    cryptogram?: Cryptogram,
  ): Promise<SettleResponse | null> {
    if (!this.basket || !this.card || !this.txnId || !this.authorizationRef) return null;
    this.handedOn = true;
    try {
      return await this.ctx.cancel(this.basket, {
        terminalId: this.ctx.terminalId,
        terminalTxnId: this.txnId,
        merchantId: this.ctx.merchantId,
        authorizationRef: this.authorizationRef,
        card: this.card,
        amount: this.basket.total,
        items: [...this.basket.items],
        cryptogram,
        reason,
      });
    } catch (error) {
      if (!(error instanceof BackendError)) throw error;
      return null;
    }
  }

  /** After the wait for a basket: the session still wants one (not cancelled, failed or gone meanwhile). */
  private stillWaitingForBasket(): boolean {
    return this.state === 'authorizing' || this.state === 'waiting_for_basket';
  }

  /** The next basket for this phone; never one for a session that has already closed (it would be stuck). */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private takeBasket(): Basket | undefined {
    if (this.isClosed()) return undefined;
    return this.ctx.baskets.assign(this.id);
  }

  /**
   * The basket for this phone: the oldest waiting one, or, when none waits, the next one charged
   * (or assigned to it by the cashier), in the order phones began to wait, for at most
   * `basketWaitMs`. While it waits the cashier's screen says so and the phone is told why.
   */
  private async waitForBasket(): Promise<Basket | undefined> {
    const now = this.takeBasket();
    if (now || this.isClosed()) return now;
    const waitMs = this.ctx.limits.basketWaitMs;
    const given = new Promise<Basket | undefined>((resolve) => {
      const timer = setTimeout(() => done(undefined), waitMs);
      timer.unref?.();
      const done = (b: Basket | undefined) => {
        clearTimeout(timer);
        this.stopWaiting = null;
        this.ctx.baskets.stopWaiting(this.id);
        resolve(b);
      };
      this.stopWaiting = () => done(undefined);
      this.ctx.baskets.wait(this.id, done);
    });
    // wait() may have served it at once; else the phone and the cashier learn that it waits.
    if (this.stopWaiting) {
      this.move('waiting_for_basket');
      await this.stream
        .send({
          $case: 'status',
          value: {
            code: 'waiting_for_basket',
            message: 'Your card is checked. The till is waiting for the cashier to ring up your sale.',
            waitMs,
          },
        })
        .catch(() => undefined);
    }
    return given;
  }

  private move(to: SessionState): void {
    if (!NEXT[this.state].includes(to)) throw new Error(`session cannot go from ${this.state} to ${to}`);
    this.state = to;
    this.emit();
  }

  private emit(): void {
    this.ctx.emit({ type: 'session', session: this.snapshot() });
  }

  /** A protocol violation by the phone: tell it (in clear only before the handshake) and drop it. */
  private protocolFailure(error: unknown): void {
    if (!(error instanceof ProtocolError)) return this.unexpected(error);
    this.detail = `protocol error: ${error.code}`;
    this.ctx.emit({ type: 'error', sessionId: this.id, code: error.code, message: error.message });
    if (!this.stream.secured)
      void this.stream
        .send({ $case: 'error', value: { code: error.code, message: error.message } })
        .catch(() => undefined);
    void this.end('failed', { violation: true });
  }

  private async refuse(code: string, message: string): Promise<void> {
    this.detail = `${code}: ${message}`;
    this.ctx.emit({ type: 'error', sessionId: this.id, code, message });
    await this.stream.send({ $case: 'error', value: { code, message } }).catch(() => undefined);
    await this.end('failed', { violation: true });
  }

  private unexpected(error: unknown): void {
    if (error instanceof BackendError) {
      this.detail = `payment network: ${error.code}`;
      this.decline = 'backend_unavailable';
      void this.stream
        .send({
          $case: 'error',
          value: {
            code: 'backend_unavailable',
            message: 'The payment network is not reachable; nothing was charged',
          },
        })
        .catch(() => undefined);
    } else {
      this.detail = 'internal error';
      this.ctx.emit({
        type: 'error',
        sessionId: this.id,
        code: 'internal',
        message: (error as Error)?.message ?? String(error),
      });
    }
    void this.end('failed');
  }

  /**
   * The session is over. The phone hangs up after the last message; the till hangs up only on a
   * phone that lingers (an HCI Disconnect overtakes notifications still queued in the BLE host,
   * so hanging up at once could swallow the receipt). A phone that broke the protocol is cut off
   * after a short grace that lets the Error go out.
   */
  /**
   * Ends the session with its last message. The state is recorded first: a phone that hangs up as
   * soon as it reads the message must not leave the session looking unfinished.
   */
  private async finish(final: 'approved' | 'declined' | 'failed', last: BleBody): Promise<void> {
    if (this.state !== 'closed' && this.state !== final) this.move(final);
    await this.stream.send(last).catch(() => undefined);
    await this.end(final);
  }

  private async end(
    final: 'approved' | 'declined' | 'failed',
    o: { violation?: boolean } = {},
  ): Promise<void> {
    if (this.state === 'closed') return;
    this.stopWaiting?.();
    if (this.state !== final) this.move(final);
    const wait = o.violation ? Math.min(this.ctx.limits.lingerMs, 500) : this.ctx.limits.lingerMs;
    setTimeout(() => void this.link.disconnect().catch(() => undefined), wait).unref?.();
  }

  /**
   * The cashier ends a session that waits on its phone (secured: for the card; authorized: for the
   * Payment) or for a basket: the phone is told 'cancelled', nothing is charged, and the basket goes back to
   * waiting at once (a phone gone quiet would otherwise hold it until the session timeout). False
   * in any other state: before the Hello is answered there is nothing to take back, and once the
   * card or the Payment is with the payment network the outcome is theirs.
   */
  cancelByCashier(): boolean {
    if (this.state !== 'secured' && this.state !== 'waiting_for_basket' && this.state !== 'authorized')
      return false;
    const authorized = this.state === 'authorized';
    this.stopWaiting?.();
    this.decline = 'cancelled';
    this.detail = 'by the cashier; nothing was charged';
    this.move('failed');
    if (!authorized) {
      // No card has been authorized in this session (so no cryptogram exists): nothing to cancel at the network.
      void this.finish('failed', {
        $case: 'error',
        value: { code: 'cancelled', message: 'The cashier cancelled this payment; nothing was charged' },
      });
      return true;
    }
    // The phone may already hold a cryptogram: the cancellation is the settlement server's, signed.
    void this.cancelAtBackend('cancelled').then(
      async (signed) => {
        this.ctx.baskets.release(this.id);
        await this.finish(
          'failed',
          signed
            ? {
                $case: 'receipt',
                value: {
                  approved: signed.approved,
                  declineReason: signed.declineReason,
                  receipt: signed.receipt,
                },
              }
            : {
                $case: 'error',
                value: {
                  code: 'outcome_unknown',
                  message: 'The cashier cancelled; the payment network has not confirmed it yet',
                },
              },
        );
      },
      (error: unknown) => this.unexpected(error),
    );
    return true;
  }

  close(reason: string): void {
    if (this.state === 'closed') return;
    clearInterval(this.timer);
    this.stopWaiting?.();
    // A phone gone after its card was authorized but before its Payment arrived: the till holds no
    // cryptogram, and the payment is cancelled at the settlement server (signed, journaled), so a
    // phone that comes back to ask gets a signed answer and nothing of it can settle later.
    if (this.txnId && !this.handedOn)
      void this.cancelAtBackend('cancelled').catch((error: unknown) =>
        this.ctx.emit({
          type: 'error',
          sessionId: this.id,
          code: 'internal',
          message: (error as Error)?.message ?? String(error),
        }),
      );
    if (this.state !== 'approved' && this.state !== 'declined' && this.state !== 'failed')
      this.detail ||= reason;
    this.stream.close();
    this.state = 'closed';
    // The till forgets the session and takes back a basket it held first, so that the 'closed'
    // event's listeners (the cashier's screen) see that basket waiting again, not with a phone gone.
    this.onClosed(this);
    this.emit();
  }

  /** The receipt (decoded) shown at the till, when the session has one. */
  static decodeReceipt(bytes: Uint8Array): Receipt {
    return ReceiptCodec.decode(bytes);
  }
}
