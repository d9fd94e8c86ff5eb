/**
 * The till core: serves every connected phone in its own session, keeps the baskets, and settles
 * through the journal so that no outcome is lost and nothing is charged twice.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  CancelRequest, Receipt, SettleRequest, SettleResponse, SettleWithCodeRequest, TillInfo, isTemporaryCode, maskPan,
  type CloseBatchResponse, type ListTransactionsResponse, type RefundResponse, type TillIdentity, type VoidResponse,
} from '@bluetill/protocol';
import type { BlePeripheral } from './ports/ble-peripheral';
import { BackendError, type BackendClient } from './ports/backend-client';
import type { Journal } from './ports/journal';
import type { BasketStore } from './ports/basket-store';
import { BasketBook, type Basket } from './basket';
import { PhoneSession, type SessionSnapshot } from './session';
import { checkTransition, type AttemptState } from './payment-attempt';
import { TokenBucket } from './token-bucket';
import { DEFAULT_LIMITS, type Outcome, type TillContext, type TillEvent, type TillLimits } from './till-context';

export interface TillOptions {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly counterName: string;
  readonly currency: string;
  readonly identity: TillIdentity;
  readonly peripheral: BlePeripheral;
  readonly backend: BackendClient;
  readonly journal: Journal;
  /** Where waiting baskets, the sale being rung up and the basket numbering are kept across restarts (usually the journal's database). */
  readonly basketStore?: BasketStore;
  readonly clock?: { now(): number };
  readonly limits?: Partial<TillLimits>;
  /** How often unresolved settlements are looked up (ms); 0 turns the timer off. */
  readonly resolveEveryMs?: number;
}

/** A request the core refuses before anything leaves the till (the host maps the code to its API error). */
export class TillError extends Error {
  constructor(
    readonly code: 'bad_request' | 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'TillError';
  }
}

/** How long a phone can come back with its resume token to fetch the outcome of its payment. */
const RESUME_TOKEN_LIFETIME_MS = 24 * 3600_000;
const tokenHash = (token: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(token).digest());

export class Till {
  readonly baskets: BasketBook;
  private readonly sessions = new Map<string, PhoneSession>();
  private readonly listeners = new Set<(e: TillEvent) => void>();
  private readonly ctx: TillContext;
  private resolveTimer: ReturnType<typeof setInterval> | null = null;
  private resolving: Promise<void> | null = null;
  /** Attempts someone is working on right now (a settle in flight, or a resolution): never touched twice. */
  private readonly claimed = new Set<string>();
  private txnCounter = 0;

  constructor(private readonly o: TillOptions) {
    // Basket ids name sales in the journal: after a restart, numbering skips the journal's ones.
    this.baskets = new BasketBook(o.currency, (id) => o.journal.forBasket(id).length > 0, o.basketStore ?? null);
    // A kept basket whose payment the journal knows was approved (the till stopped before it noted
    // that) is paid; one whose attempt is still unknown waits, and is settled when the attempt is resolved.
    for (const b of this.baskets.list()) {
      const paid = o.journal.forBasket(b.id).find((a) => a.state === 'approved');
      if (paid) this.baskets.markPaid(b.id, paid.terminalTxnId);
    }
    const clock = o.clock ?? { now: () => Date.now() };
    const limits = { ...DEFAULT_LIMITS, ...o.limits };
    const hellos = new TokenBucket(limits.helloBurst, limits.hellosPerSecond, () => clock.now());
    this.ctx = {
      terminalId: o.terminalId,
      merchantId: o.merchantId,
      identity: o.identity,
      backend: o.backend,
      baskets: this.baskets,
      clock,
      limits,
      emit: (e) => this.emit(e),
      admitHello: () => hellos.take(),
      newTxnId: () => `${o.terminalId}-${clock.now().toString(36)}-${(++this.txnCounter).toString(36)}-${randomBytes(3).toString('hex')}`,
      settle: (basket, req) => this.settle(basket, req),
      cancel: (basket, req) => this.cancel(basket, req),
      issueResumeToken: (txn, basketId) => {
        const token = new Uint8Array(randomBytes(16));
        // Kept (as a hash) in the journal, so a phone can fetch its receipt after a till restart too.
        const at = clock.now();
        this.o.journal.recordResumeToken({ terminalTxnId: txn, basketId, tokenHash: tokenHash(token), at, purgeBefore: at - RESUME_TOKEN_LIFETIME_MS });
        return token;
      },
      lookupOutcome: (txn, token) => this.lookupOutcome(txn, token),
    };
  }

  onEvent(listener: (e: TillEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.o.peripheral.onConnect((link) => {
      const session = new PhoneSession(link, this.ctx, (s) => {
        this.sessions.delete(s.id);
        this.baskets.release(s.id);
      });
      this.sessions.set(session.id, session);
    });
    const info = TillInfo.encode({ protocolVersion: 1, counterName: this.o.counterName, merchantName: this.o.identity.merchantName, maxMessageSize: this.ctx.limits.maxMessageSize }).finish();
    await this.o.peripheral.start({ counterName: this.o.counterName, info });
    await this.resolveUnresolved().catch(() => undefined);
    const every = this.o.resolveEveryMs ?? 5_000;
    if (every > 0) {
      this.resolveTimer = setInterval(() => void this.resolveUnresolved().catch(() => undefined), every);
      this.resolveTimer.unref?.();
    }
  }

  /** Who this till is, for the cashier's screen. */
  info(): { terminalId: string; merchantId: string; merchantName: string; counterName: string; currency: string } {
    const o = this.o;
    return { terminalId: o.terminalId, merchantId: o.merchantId, merchantName: o.identity.merchantName, counterName: o.counterName, currency: o.currency };
  }

  /** The cashier cancels a phone's session (PhoneSession.cancelByCashier); false when there is none or it cannot be cancelled now. */
  cancelSession(sessionId: string): boolean {
    return this.sessions.get(sessionId)?.cancelByCashier() ?? false;
  }

  sessionSnapshots(): SessionSnapshot[] {
    return [...this.sessions.values()].map((s) => s.snapshot());
  }

  /** Settles a basket: journal first, then the backend; an unknown outcome stays 'unresolved'. */
  private settle(basket: Basket, req: SettleRequest): Promise<SettleResponse> {
    const summary = { amountMinor: req.amount?.minor ?? 0, maskedPan: maskPan(req.card?.pan ?? '') };
    return this.journaled(basket, req.terminalTxnId, SettleRequest.encode(req).finish(), () => this.o.backend.settle(req), summary);
  }

  /**
   * "Pay with code" (claims 1, 5, 6): the cashier keys in the shopper's temporary password for a
   * waiting basket; the till sends the sale with it over its mutual-TLS channel, through the same
   * journal as a phone's payment (exactly once, an unknown outcome resolved by asking). While the
   * backend decides, the basket is held for the code (no phone can take it); declined, it waits
   * again. The code itself is not kept in the journal.
   */
  async payWithCode(basketId: string, code: string): Promise<SettleResponse> {
    if (!isTemporaryCode(code)) throw new TillError('bad_request', 'a payment code is 8 digits');
    const basket = this.baskets.get(basketId);
    if (!basket) throw new TillError('not_found', `no basket ${basketId}`);
    if (basket.state !== 'open') throw new TillError('conflict', `basket ${basketId} is ${basket.state === 'paid' ? 'paid' : 'with a phone'}`);
    const txn = this.ctx.newTxnId();
    const holder = `code:${txn}`;
    if (!this.baskets.assign(holder, basketId)) throw new TillError('conflict', `basket ${basketId} could not be held for the code`);
    const req: SettleWithCodeRequest = { terminalId: this.o.terminalId, terminalTxnId: txn, merchantId: this.o.merchantId, code, amount: basket.total, items: basket.items.map((i) => ({ ...i })) };
    try {
      const res = await this.journaled(basket, txn, SettleWithCodeRequest.encode({ ...req, code: '' }).finish(), () => this.o.backend.settleWithCode(req), { amountMinor: basket.total.minor, maskedPan: '' });
      if (!res.approved) this.baskets.release(holder);
      return res;
    } catch (error) {
      // No answer: the attempt is unresolved in the journal and the basket stays held until the till learns the outcome.
      if (!this.o.journal.forBasket(basketId).some((a) => a.state === 'unresolved' || a.state === 'pending')) this.baskets.release(holder);
      throw error;
    }
  }

  /**
   * Ends a payment before settling it (Settlement.Cancel), journaled like a Settle: the signed
   * decline or cancellation is the attempt's response, so a phone that asks later gets it; an
   * unknown outcome is resolved by asking (GetSettlement finds the cancellation).
   */
  private async cancel(basket: Basket, req: CancelRequest): Promise<SettleResponse> {
    const txn = req.terminalTxnId;
    this.claimed.add(txn);
    try {
      await this.o.journal.begin({ terminalTxnId: txn, basketId: basket.id, request: CancelRequest.encode(req).finish(), at: this.ctx.clock.now() });
      this.emit({ type: 'attempt', terminalTxnId: txn, basketId: basket.id, state: 'pending' });
      let res: SettleResponse;
      try {
        res = await this.o.backend.cancel(req);
      } catch (error) {
        this.record(txn, basket.id, 'pending', 'unresolved', null);
        throw error;
      }
      this.conclude(txn, basket, 'pending', res, null);
      return res;
    } finally {
      this.claimed.delete(txn);
    }
  }

  private async journaled(basket: Basket, txn: string, request: Uint8Array, send: () => Promise<SettleResponse>, summary: { amountMinor: number; maskedPan: string }): Promise<SettleResponse> {
    this.claimed.add(txn); // from here, a phone asking about this payment waits for the answer
    try {
      // An earlier attempt for this basket whose outcome is unknown is settled first, by asking:
      // if it was charged, that charge is the answer and nothing is charged again.
      await this.resolveAll(basket.id);
      if (this.o.journal.forBasket(basket.id).some((a) => a.state === 'unresolved' || a.state === 'pending'))
        throw new BackendError('unavailable', 'an earlier attempt for this basket is still unresolved');
      const paid = this.paidAttempt(basket.id);
      if (paid) return paid;
      await this.o.journal.begin({ terminalTxnId: txn, basketId: basket.id, request, at: this.ctx.clock.now(), ...summary });
      this.emit({ type: 'attempt', terminalTxnId: txn, basketId: basket.id, state: 'pending' });
      let res: SettleResponse;
      try {
        res = await send();
      } catch (error) {
        this.record(txn, basket.id, 'pending', 'unresolved', null);
        throw error;
      }
      this.conclude(txn, basket, 'pending', res, null);
      return res;
    } finally {
      this.claimed.delete(txn);
    }
  }

  private async lookupOutcome(txn: string, token: Uint8Array): Promise<Outcome> {
    const known = this.o.journal.resumeToken(txn);
    if (!known || !timingSafeEqual(known.tokenHash, tokenHash(token))) return { kind: 'refused' };
    // A Payment that arrived just before the link dropped may still be settling: wait for it.
    const deadline = this.ctx.clock.now() + 15_000;
    while (this.claimed.has(txn) && this.ctx.clock.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    let attempt = this.o.journal.get(txn);
    if (attempt && (attempt.state === 'pending' || attempt.state === 'unresolved')) {
      await this.resolveAll(known.basketId);
      attempt = this.o.journal.get(txn);
    }
    if (!attempt || attempt.state === 'abandoned') return { kind: 'not_charged' };
    if ((attempt.state === 'approved' || attempt.state === 'declined') && attempt.response) return { kind: 'settled', response: SettleResponse.decode(attempt.response) };
    return { kind: 'unknown' };
  }

  private paidAttempt(basketId: string): SettleResponse | undefined {
    const done = this.o.journal.forBasket(basketId).find((a) => a.state === 'approved' && a.response);
    return done ? { ...SettleResponse.decode(done.response!), replayed: true } : undefined;
  }

  private conclude(txnId: string, basket: Basket | undefined, from: AttemptState, res: SettleResponse, sessionId: string | null): void {
    const basketId = basket?.id ?? this.o.journal.get(txnId)?.basketId ?? '';
    this.record(txnId, basketId, from, res.approved ? 'approved' : 'declined', SettleResponse.encode(res).finish());
    if (res.approved) this.baskets.markPaid(basketId, txnId);
    if (res.receipt) this.emit({ type: 'receipt', receipt: Receipt.decode(res.receipt.receipt), sessionId });
  }

  private record(txnId: string, basketId: string, from: AttemptState, to: AttemptState, response: Uint8Array | null): void {
    checkTransition(from, to);
    this.o.journal.transition(txnId, to, response, this.ctx.clock.now());
    // A basket held for a payment code waits again once that attempt is known not to have paid it.
    if (to === 'declined' || to === 'abandoned') this.baskets.release(`code:${txnId}`);
    this.emit({ type: 'attempt', terminalTxnId: txnId, basketId, state: to });
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
    const refundTxnId = this.pendingId('refund', `${terminalTxnId}:${amountMinor}`, () => this.ctx.newTxnId());
    const res = await this.answered(
      () => this.o.backend.refund({ terminalTxnId, refundTxnId, amount: { minor: amountMinor, currency: this.o.currency } }),
      () => this.o.journal.clearPendingOperation('refund', `${terminalTxnId}:${amountMinor}`),
    );
    if (res.approved && res.receipt) this.emit({ type: 'receipt', receipt: Receipt.decode(res.receipt.receipt), sessionId: null });
    return res;
  }

  /** Voids an approved sale of the open batch that has no refunds (idempotent: a retry is the same void). */
  async voidSale(terminalTxnId: string): Promise<VoidResponse> {
    const res = await this.o.backend.voidSale(terminalTxnId);
    if (res.approved && res.receipt) this.emit({ type: 'receipt', receipt: Receipt.decode(res.receipt.receipt), sessionId: null });
    return res;
  }

  /** End of day: closes this terminal's open batch at the backend and returns its totals. */
  async closeBatch(): Promise<CloseBatchResponse> {
    const id = this.pendingId('close', 'batch', () => `close-${this.ctx.newTxnId()}`);
    return this.answered(() => this.o.backend.closeBatch(id), () => this.o.journal.clearPendingOperation('close', 'batch'));
  }

  /**
   * The id a refund or close is sent with: the one of an earlier attempt whose answer never came
   * (kept in the journal, so a restart does not forget it), else a new one, recorded before it leaves.
   */
  private pendingId(kind: 'refund' | 'close', key: string, fresh: () => string): string {
    const earlier = this.o.journal.pendingOperation(kind, key);
    if (earlier) return earlier;
    const id = fresh();
    this.o.journal.recordPendingOperation(kind, key, id, this.ctx.clock.now());
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

  async stop(): Promise<void> {
    if (this.resolveTimer) clearInterval(this.resolveTimer);
    for (const s of this.sessions.values()) s.close('till stopping');
    await this.o.peripheral.stop();
  }

  private emit(e: TillEvent): void {
    for (const l of this.listeners) l(e);
  }
}
