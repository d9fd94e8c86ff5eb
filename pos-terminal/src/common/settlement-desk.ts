/**
 * The till's settlement desk: every payment's attempt goes through the journal (written before
 * the request leaves, concluded when the answer arrives) so that no outcome is lost and nothing is
 * charged twice; an unknown outcome is resolved by asking the backend, never by guessing. It also
 * issues the resume tokens a phone fetches its outcome with, pays baskets with a payment code, and
 * keeps the ids of refunds and the day's close across lost answers.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  CancelRequest,
  Receipt,
  SettleRequest,
  SettleResponse,
  SettleWithCodeRequest,
  isTemporaryCode,
  maskPan,
  type CloseBatchResponse,
  type ListTransactionsResponse,
  type RefundResponse,
  type VoidResponse,
} from '@bluetill/protocol';
import { BackendError, type BackendClient } from './ports/backend-client';
import type { Journal } from './ports/journal';
import type { Basket, BasketBook } from './basket';
import { checkTransition, type AttemptState } from './payment-attempt';
import { TillError } from './till-error';
import type { Outcome, TillEvent } from './till-context';

/** How long a phone can come back with its resume token to fetch the outcome of its payment. */
const RESUME_TOKEN_LIFETIME_MS = 24 * 3600_000;
const tokenHash = (token: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(token).digest());

/** A payment code as the shopper's app shows it (8 digits); anything else is refused before anything is charged or sent. */
export function checkPaymentCode(code: string): void {
  if (!isTemporaryCode(code)) throw new TillError('bad_request', 'a payment code is 8 digits');
}

export interface SettlementDeskOptions {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly currency: string;
  readonly backend: BackendClient;
  readonly journal: Journal;
  readonly baskets: BasketBook;
  readonly clock: { now(): number };
  readonly emit: (e: TillEvent) => void;
}

export class SettlementDesk {
  private resolveTimer: ReturnType<typeof setInterval> | null = null;
  private resolving: Promise<void> | null = null;
  /** Attempts someone is working on right now (a settle in flight, or a resolution): never touched twice. */
  private readonly claimed = new Set<string>();
  private txnCounter = 0;
  private readonly baskets: BasketBook;

  constructor(private readonly o: SettlementDeskOptions) {
    this.baskets = o.baskets;
  }

  /** A new terminal transaction id (unique across restarts: time, counter and random). */
  newTxnId(): string {
    return `${this.o.terminalId}-${this.o.clock.now().toString(36)}-${(++this.txnCounter).toString(36)}-${randomBytes(3).toString('hex')}`;
  }

  /** A secret the authorized phone can later show to fetch this payment's receipt. */
  issueResumeToken(txn: string, basketId: string): Uint8Array {
    const token = new Uint8Array(randomBytes(16));
    // Kept (as a hash) in the journal, so a phone can fetch its receipt after a till restart too.
    const at = this.o.clock.now();
    this.o.journal.recordResumeToken({
      terminalTxnId: txn,
      basketId,
      tokenHash: tokenHash(token),
      at,
      purgeBefore: at - RESUME_TOKEN_LIFETIME_MS,
    });
    return token;
  }

  /** Resolves unknown outcomes now, then every `everyMs` (0: only when asked). */
  async start(everyMs: number): Promise<void> {
    await this.resolveUnresolved().catch(() => undefined);
    if (everyMs > 0) {
      this.resolveTimer = setInterval(() => void this.resolveUnresolved().catch(() => undefined), everyMs);
      this.resolveTimer.unref?.();
    }
  }

  stop(): void {
    if (this.resolveTimer) clearInterval(this.resolveTimer);
    this.resolveTimer = null;
  }

  /** Settles a basket: journal first, then the backend; an unknown outcome stays 'unresolved'. */
  settle(basket: Basket, req: SettleRequest): Promise<SettleResponse> {
    const summary = { amountMinor: req.amount?.minor ?? 0, maskedPan: maskPan(req.card?.pan ?? '') };
    return this.journaled(
      basket,
      req.terminalTxnId,
      SettleRequest.encode(req).finish(),
      () => this.o.backend.settle(req),
      summary,
    );
  }

  /**
   * "Pay with code" (claims 1, 5, 6): the cashier keys in the shopper's temporary password for a
   * waiting basket; the till sends the sale with it over its mutual-TLS channel, through the same
   * journal as a phone's payment (exactly once, an unknown outcome resolved by asking). While the
   * backend decides, the basket is held for the code (no phone can take it); declined, it waits
   * again. The code itself is not kept in the journal.
   */
  async payWithCode(basketId: string, code: string): Promise<SettleResponse> {
    checkPaymentCode(code);
    const basket = this.baskets.get(basketId);
    if (!basket) throw new TillError('not_found', `no basket ${basketId}`);
    if (basket.state !== 'open')
      throw new TillError(
        'conflict',
        `basket ${basketId} is ${basket.state === 'paid' ? 'paid' : 'with a phone'}`,
      );
    const txn = this.newTxnId();
    if (!this.baskets.holdForCode(basketId, txn))
      throw new TillError('conflict', `basket ${basketId} could not be held for the code`);
    const req: SettleWithCodeRequest = {
      terminalId: this.o.terminalId,
      terminalTxnId: txn,
      merchantId: this.o.merchantId,
      code,
      amount: basket.total,
      items: basket.items.map((i) => ({ ...i })),
    };
    try {
      const res = await this.journaled(
        basket,
        txn,
        SettleWithCodeRequest.encode({ ...req, code: '' }).finish(),
        () => this.o.backend.settleWithCode(req),
        { amountMinor: basket.total.minor, maskedPan: '' },
      );
      if (!res.approved) this.baskets.releaseCode(txn);
      return res;
    } catch (error) {
      // No answer: the attempt is unresolved in the journal and the basket stays held until the till learns the outcome.
      if (!this.o.journal.forBasket(basketId).some((a) => a.state === 'unresolved' || a.state === 'pending'))
        this.baskets.releaseCode(txn);
      throw error;
    }
  }

  /**
   * Ends a payment before settling it (Settlement.Cancel), journaled like a Settle: the signed
   * decline or cancellation is the attempt's response, so a phone that asks later gets it; an
   * unknown outcome is resolved by asking (GetSettlement finds the cancellation).
   */
  async cancel(basket: Basket, req: CancelRequest): Promise<SettleResponse> {
    const txn = req.terminalTxnId;
    this.claimed.add(txn);
    try {
      await this.o.journal.begin({
        terminalTxnId: txn,
        basketId: basket.id,
        request: CancelRequest.encode(req).finish(),
        at: this.o.clock.now(),
      });
      this.o.emit({ type: 'attempt', terminalTxnId: txn, basketId: basket.id, state: 'pending' });
      return await this.sent(txn, basket, () => this.o.backend.cancel(req));
    } finally {
      this.claimed.delete(txn);
    }
  }

  /** Sends a journaled attempt: no answer leaves it unresolved (asked about later), an answer concludes it. */
  private async sent(
    txn: string,
    basket: Basket,
    send: () => Promise<SettleResponse>,
  ): Promise<SettleResponse> {
    let res: SettleResponse;
    try {
      res = await send();
    } catch (error) {
      this.record(txn, basket.id, 'pending', 'unresolved', null);
      throw error;
    }
    this.conclude(txn, basket, 'pending', res, null);
    return res;
  }

  private async journaled(
    basket: Basket,
    txn: string,
    request: Uint8Array,
    send: () => Promise<SettleResponse>,
    summary: { amountMinor: number; maskedPan: string },
  ): Promise<SettleResponse> {
    this.claimed.add(txn); // from here, a phone asking about this payment waits for the answer
    try {
      // An earlier attempt for this basket whose outcome is unknown is settled first, by asking:
      // if it was charged, that charge is the answer and nothing is charged again.
      await this.resolveAll(basket.id);
      if (this.o.journal.forBasket(basket.id).some((a) => a.state === 'unresolved' || a.state === 'pending'))
        throw new BackendError('unavailable', 'an earlier attempt for this basket is still unresolved');
      const paid = this.paidAttempt(basket.id);
      if (paid) return paid;
      await this.o.journal.begin({
        terminalTxnId: txn,
        basketId: basket.id,
        request,
        at: this.o.clock.now(),
        ...summary,
      });
      this.o.emit({ type: 'attempt', terminalTxnId: txn, basketId: basket.id, state: 'pending' });
      return await this.sent(txn, basket, send);
    } finally {
      this.claimed.delete(txn);
    }
  }

  async lookupOutcome(txn: string, token: Uint8Array): Promise<Outcome> {
    const known = this.o.journal.resumeToken(txn);
    if (!known || !timingSafeEqual(known.tokenHash, tokenHash(token))) return { kind: 'refused' };
    // A Payment that arrived just before the link dropped may still be settling: wait for it.
    const deadline = this.o.clock.now() + 15_000;
    while (this.claimed.has(txn) && this.o.clock.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    let attempt = this.o.journal.get(txn);
    if (attempt && (attempt.state === 'pending' || attempt.state === 'unresolved')) {
      await this.resolveAll(known.basketId);
      attempt = this.o.journal.get(txn);
    }
    if (!attempt || attempt.state === 'abandoned') return { kind: 'not_charged' };
    if ((attempt.state === 'approved' || attempt.state === 'declined') && attempt.response)
      return { kind: 'settled', response: SettleResponse.decode(attempt.response) };
    return { kind: 'unknown' };
  }

  private paidAttempt(basketId: string): SettleResponse | undefined {
    const done = this.o.journal.forBasket(basketId).find((a) => a.state === 'approved' && a.response);
    return done ? { ...SettleResponse.decode(done.response!), replayed: true } : undefined;
  }

  private conclude(
    txnId: string,
    basket: Basket | undefined,
    from: AttemptState,
    res: SettleResponse,
    sessionId: string | null,
  ): void {
    const basketId = basket?.id ?? this.o.journal.get(txnId)?.basketId ?? '';
    this.record(
      txnId,
      basketId,
      from,
      res.approved ? 'approved' : 'declined',
      SettleResponse.encode(res).finish(),
    );
    if (res.approved) this.baskets.markPaid(basketId, txnId);
    if (res.receipt)
      this.o.emit({ type: 'receipt', receipt: Receipt.decode(res.receipt.receipt), sessionId });
  }

  private record(
    txnId: string,
    basketId: string,
    from: AttemptState,
    to: AttemptState,
    response: Uint8Array | null,
  ): void {
    checkTransition(from, to);
    this.o.journal.transition(txnId, to, response, this.o.clock.now());
    // A basket held for a payment code waits again once that attempt is known not to have paid it.
    if (to === 'declined' || to === 'abandoned') this.baskets.releaseCode(txnId);
    this.o.emit({ type: 'attempt', terminalTxnId: txnId, basketId, state: to });
  }

  /**
   * Asks the backend about every attempt whose outcome is unknown ('pending' left by a crash, or
   * 'unresolved'); never re-sends them, so a shopper told "not confirmed" is not charged later.
   */
  resolveUnresolved(): Promise<void> {
    if (this.resolving) return this.resolving;
    const run = this.resolveAll().finally(() => {
      if (this.resolving === run) this.resolving = null;
    });
    this.resolving = run;
    return run;
  }

  private async resolveAll(basketId?: string): Promise<void> {
    for (const a of this.o.journal.unresolved()) {
      if ((basketId !== undefined && a.basketId !== basketId) || this.claimed.has(a.terminalTxnId)) continue;
      this.claimed.add(a.terminalTxnId);
      try {
        if (a.state === 'pending') this.record(a.terminalTxnId, a.basketId, 'pending', 'unresolved', null);
        const found = await this.o.backend.getSettlement(a.terminalTxnId);
        if (found) this.conclude(a.terminalTxnId, this.baskets.get(a.basketId), 'unresolved', found, null);
        else this.record(a.terminalTxnId, a.basketId, 'unresolved', 'abandoned', null);
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        return; // the network is still away: try again later
      } finally {
        this.claimed.delete(a.terminalTxnId);
      }
    }
  }

  /**
   * Refunds part or all of an approved sale of this terminal. A declined refund is a value (the
   * backend's decline code); an approved one's signed receipt is issued like a sale's.
   */
  async refund(terminalTxnId: string, amountMinor: number): Promise<RefundResponse> {
    const refundTxnId = this.pendingId('refund', `${terminalTxnId}:${amountMinor}`, () => this.newTxnId());
    const res = await this.answered(
      () =>
        this.o.backend.refund({
          terminalTxnId,
          refundTxnId,
          amount: { minor: amountMinor, currency: this.o.currency },
        }),
      () => this.o.journal.clearPendingOperation('refund', `${terminalTxnId}:${amountMinor}`),
    );
    if (res.approved && res.receipt)
      this.o.emit({ type: 'receipt', receipt: Receipt.decode(res.receipt.receipt), sessionId: null });
    return res;
  }

  /** Voids an approved sale of the open batch that has no refunds (idempotent: a retry is the same void). */
  async voidSale(terminalTxnId: string): Promise<VoidResponse> {
    const res = await this.o.backend.voidSale(terminalTxnId);
    if (res.approved && res.receipt)
      this.o.emit({ type: 'receipt', receipt: Receipt.decode(res.receipt.receipt), sessionId: null });
    return res;
  }

  /** End of day: closes this terminal's open batch at the backend and returns its totals. */
  async closeBatch(): Promise<CloseBatchResponse> {
    const id = this.pendingId('close', 'batch', () => `close-${this.newTxnId()}`);
    return this.answered(
      () => this.o.backend.closeBatch(id),
      () => this.o.journal.clearPendingOperation('close', 'batch'),
    );
  }

  /**
   * The id a refund or close is sent with: the one of an earlier attempt whose answer never came
   * (kept in the journal, so a restart does not forget it), else a new one, recorded before it leaves.
   */
  private pendingId(kind: 'refund' | 'close', key: string, fresh: () => string): string {
    const earlier = this.o.journal.pendingOperation(kind, key);
    if (earlier) return earlier;
    const id = fresh();
    this.o.journal.recordPendingOperation(kind, key, id, this.o.clock.now());
    return id;
  }

  listTransactions(fromMs: number, toMs = 0): Promise<ListTransactionsResponse> {
    return this.o.backend.listTransactions(fromMs, toMs);
  }

  /** Runs a call; `settled` runs once the backend has answered (a result or a refusal), not when the network failed. */
  private async answered<T>(call: () => Promise<T>, settled: () => void): Promise<T> {
    try {
      const res = await call();
      settled();
      return res;
    } catch (error) {
      if (!(error instanceof BackendError) || error.code === 'rejected') settled();
      throw error;
    }
  }

  /**
   * Whether the payment network answers, without side effects: the backend client's health probe,
   * or (a client without one) a lookup of a settlement that cannot exist (no UN is used up,
   * nothing is charged). For the cashier's "backend unreachable" state.
   */
  async probeBackend(): Promise<boolean> {
    try {
      if (this.o.backend.probe) await this.o.backend.probe();
      else await this.o.backend.getSettlement(`${this.o.terminalId}-probe`);
      return true;
    } catch (error) {
      // A till the card company refuses is not an unreachable network: the host says which.
      if (error instanceof BackendError && error.code !== 'refused') return false;
      throw error;
    }
  }
}
