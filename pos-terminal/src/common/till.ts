/**
 * The till core, composed of its parts: the sale being rung up (sale/draft-sale.ts), the baskets
 * and who holds each (basket.ts), the phones' sessions (sessions.ts) and the settlement desk that
 * settles through the journal so that no outcome is lost and nothing is charged twice
 * (settlement-desk.ts). Hosts talk to this one object.
 */
import {
  TillInfo,
  type CloseBatchResponse,
  type ListTransactionsResponse,
  type RefundResponse,
  type SettleResponse,
  type TillIdentity,
  type VoidResponse,
} from '@bluetill/protocol';
import type { BlePeripheral } from './ports/ble-peripheral';
import type { BackendClient } from './ports/backend-client';
import type { Journal } from './ports/journal';
import type { BasketStore } from './ports/basket-store';
import { BasketBook } from './basket';
import type { SessionSnapshot } from './session-snapshot';
import { PhoneSessions } from './sessions';
import { SettlementDesk } from './settlement-desk';
import { TokenBucket } from './token-bucket';
import { DraftSale } from './sale/draft-sale';
import type { OfflineDesk, OfflineStatus } from './offline/offline-desk';
import { DEFAULT_LIMITS, type TillContext, type TillEvent, type TillLimits } from './till-context';

export { TillError } from './till-error';
export { checkPaymentCode } from './settlement-desk';

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
  /** Offline mode (offline/offline-desk.ts): absent, the till takes no payment while the card company is unreachable. */
  readonly offline?: OfflineDesk;
  /** How often offline mode's parameters are fetched (ms; default OFFLINE_PARAMETERS_REFRESH_MS); 0: at start only. */
  readonly offlineRefreshEveryMs?: number;
}

export class Till {
  readonly baskets: BasketBook;
  /** The sale being rung up at the counter. */
  readonly sale: DraftSale;
  private readonly desk: SettlementDesk;
  private readonly sessions: PhoneSessions;
  private readonly listeners = new Set<(e: TillEvent) => void>();
  private readonly limits: TillLimits;

  constructor(private readonly o: TillOptions) {
    // Basket ids name sales in the journal: after a restart, numbering skips the journal's ones.
    this.baskets = new BasketBook(
      o.currency,
      (id) => o.journal.forBasket(id).length > 0,
      o.basketStore ?? null,
    );
    // A kept basket whose payment the journal knows was approved (the till stopped before it noted
    // that) is paid; one whose attempt is still unknown waits, and is settled when the attempt is resolved.
    for (const b of this.baskets.list()) {
      const paid = o.journal.forBasket(b.id).find((a) => a.state === 'approved');
      if (paid) this.baskets.markPaid(b.id, paid.terminalTxnId);
    }
    this.sale = new DraftSale(this.baskets, o.currency);
    const clock = o.clock ?? { now: () => Date.now() };
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    const emit = (e: TillEvent) => this.emit(e);
    const desk = new SettlementDesk({
      terminalId: o.terminalId,
      merchantId: o.merchantId,
      currency: o.currency,
      backend: o.backend,
      journal: o.journal,
      baskets: this.baskets,
      clock,
      emit,
    });
    this.desk = desk;
    const hellos = new TokenBucket(this.limits.helloBurst, this.limits.hellosPerSecond, () => clock.now());
    const ctx: TillContext = {
      terminalId: o.terminalId,
      merchantId: o.merchantId,
      identity: o.identity,
      backend: o.backend,
      baskets: this.baskets,
      clock,
      limits: this.limits,
      emit,
      admitHello: () => hellos.take(),
      newTxnId: () => desk.newTxnId(),
      settle: (basket, req) => desk.settle(basket, req),
      cancel: (basket, req) => desk.cancel(basket, req),
      issueResumeToken: (txn, basketId) => desk.issueResumeToken(txn, basketId),
      lookupOutcome: (txn, token) => desk.lookupOutcome(txn, token),
      offline: o.offline ?? null,
    };
    this.sessions = new PhoneSessions(ctx, this.baskets);
    // What the card company made of each offline sale reaches the cashier: its signed receipt when
    // settled, and a sale it did not honour as an alert naming the reason (the merchant's loss).
    o.offline?.onForwardedSale((sale) => {
      if (sale.receipt && sale.state === 'settled')
        emit({ type: 'receipt', receipt: sale.receipt, sessionId: null });
      else
        emit({
          type: 'error',
          sessionId: null,
          code: 'offline_loss',
          message: `Offline sale ${sale.offlineId} not honoured by the card company (${(sale.reason ?? 'declined').replaceAll('_', ' ')}): the merchant's loss`,
        });
    });
    // Offline mode lost: the card company refused this till (its copy dropped) or sent parameters
    // that do not hold.
    o.offline?.onParametersRefreshed((r) => {
      if (r.outcome === 'dropped' || r.outcome === 'refused')
        emit({
          type: 'error',
          sessionId: null,
          code: 'offline_parameters',
          message:
            r.outcome === 'dropped'
              ? `Offline mode off: the card company gave this till no offline parameters (${r.error.message})`
              : `Offline parameters refused (${r.error.code}): the copy held stays until its validity`,
        });
    });
  }

  onEvent(listener: (e: TillEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    this.sessions.attach(this.o.peripheral);
    const info = TillInfo.encode({
      protocolVersion: 1,
      counterName: this.o.counterName,
      merchantName: this.o.identity.merchantName,
      maxMessageSize: this.limits.maxMessageSize,
    }).finish();
    await this.o.peripheral.start({ counterName: this.o.counterName, info });
    await this.desk.start(this.o.resolveEveryMs ?? 5_000);
    // Offline mode's parameters: fetched in the background (a till starting offline is not held up).
    void this.o.offline?.start(this.o.offlineRefreshEveryMs).catch((error: unknown) =>
      this.emit({
        type: 'error',
        sessionId: null,
        code: 'internal',
        message: (error as Error)?.message ?? String(error),
      }),
    );
  }

  /** Who this till is, for the cashier's screen. */
  info(): {
    terminalId: string;
    merchantId: string;
    merchantName: string;
    counterName: string;
    currency: string;
  } {
    const o = this.o;
    return {
      terminalId: o.terminalId,
      merchantId: o.merchantId,
      merchantName: o.identity.merchantName,
      counterName: o.counterName,
      currency: o.currency,
    };
  }

  /** The cashier cancels a phone's session (PhoneSession.cancelByCashier); false when there is none or it cannot be cancelled now. */
  cancelSession(sessionId: string): boolean {
    return this.sessions.cancelByCashier(sessionId);
  }

  sessionSnapshots(): SessionSnapshot[] {
    return this.sessions.snapshots();
  }

  /** A waiting basket paid with the shopper's payment code (SettlementDesk.payWithCode). */
  payWithCode(basketId: string, code: string): Promise<SettleResponse> {
    return this.desk.payWithCode(basketId, code);
  }

  /** Asks the backend about every attempt whose outcome is unknown (SettlementDesk.resolveUnresolved). */
  resolveUnresolved(): Promise<void> {
    return this.desk.resolveUnresolved();
  }

  refund(terminalTxnId: string, amountMinor: number): Promise<RefundResponse> {
    return this.desk.refund(terminalTxnId, amountMinor);
  }

  voidSale(terminalTxnId: string): Promise<VoidResponse> {
    return this.desk.voidSale(terminalTxnId);
  }

  closeBatch(): Promise<CloseBatchResponse> {
    return this.desk.closeBatch();
  }

  listTransactions(fromMs: number, toMs = 0): Promise<ListTransactionsResponse> {
    return this.desk.listTransactions(fromMs, toMs);
  }

  /**
   * Whether the payment network serves; when it does, the sales approved offline are forwarded
   * (in order, each once; a round already running is joined, not doubled).
   */
  async probeBackend(): Promise<boolean> {
    const ok = await this.desk.probeBackend();
    const offline = this.o.offline;
    // Back online without parameters in force (expired during an outage): fetched at once.
    if (ok && offline && !offline.available()) void offline.refreshParameters().catch(() => undefined);
    if (ok && offline && offline.status().open > 0)
      void offline.forward().then(
        (report) => {
          if (report.stoppedBy)
            this.emit({
              type: 'error',
              sessionId: null,
              code: 'offline_forward',
              message: report.stoppedBy.message,
            });
        },
        (error: unknown) =>
          this.emit({
            type: 'error',
            sessionId: null,
            code: 'internal',
            message: (error as Error)?.message ?? String(error),
          }),
      );
    return ok;
  }

  /** Offline mode's figures for the cashier's status line; null when the till has no offline mode. */
  offlineStatus(): OfflineStatus | null {
    return this.o.offline?.status() ?? null;
  }

  /** How many of the payment network's nodes serve (a backend client over several nodes), else null. */
  backendNodes(): { readonly up: number; readonly total: number } | null {
    return this.o.backend.nodes?.() ?? null;
  }

  async stop(): Promise<void> {
    this.desk.stop();
    this.o.offline?.stop();
    this.sessions.closeAll('till stopping');
    await this.o.peripheral.stop();
  }

  private emit(e: TillEvent): void {
    for (const l of this.listeners) l(e);
  }
}
