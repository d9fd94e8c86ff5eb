/**
 * The host side of the TillApi, shared by the headless server (WebSocket) and Electron main (IPC):
 * validates each request, drives the till core, the catalog, the receipt store and the printer,
 * and turns till events into the UI's live view. One host per till; every UI attached to it sees
 * the same sale and the same phones.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Receipt as ReceiptMessage,
  assertNever,
  formatMoney,
  formatReceiptText,
  type Receipt,
  type SignedReceipt,
} from '@bluetill/protocol';
import { BackendError, refusalText } from '../common/ports/backend-client';
import { checkPaymentCode, type Till } from '../common/till';
import { TillError } from '../common/till-error';
import type { Basket } from '../common/basket';
import type { DraftSale } from '../common/sale/draft-sale';
import type { TillEvent } from '../common/till-context';
import type { Catalog } from '../adapters/catalog/catalog';
import type { SqliteReceiptStore } from '../adapters/receipt/receipt-store.sqlite';
import type { ReceiptPrinter } from '../adapters/receipt/receipt-printer';
import { receiptToEscPos } from '../adapters/receipt/escpos';
import { receiptToPdf } from '../adapters/receipt/receipt-pdf';
import {
  isRequestChannel,
  type AuthChannel,
  type EventChannel,
  type Events,
  type RequestChannel,
  type RequestOf,
  type ResponseOf,
} from '../common/ipc/channels';
import { parseRequest } from '../common/ipc/schemas';
import { ApiError } from '../common/ipc/till-api';
import type {
  AdjustmentView,
  AttemptView,
  BackendStatus,
  OfflineView,
  BatchView,
  CodePaymentView,
  DraftView,
  ErrorView,
  MismatchView,
  PdfResult,
  PrintResult,
  ReceiptView,
  SessionRow,
  TillSnapshot,
} from '../common/ipc/view-models';
import { businessDate, businessDayBounds, isTimeZone, machineTimeZone } from '../common/business-day';
import {
  basketView,
  batchView,
  lineView,
  mismatchView,
  productView,
  reasonText,
  receiptView,
  scrubDigits,
  sessionRow,
} from './view-mapping';

export interface CashierHostOptions {
  readonly till: Till;
  readonly catalog: Catalog;
  readonly receipts: SqliteReceiptStore;
  /** Where receipts are printed (ESC/POS); none: printing answers 'unavailable'. */
  readonly printer?: ReceiptPrinter | null;
  /** Where receipt PDFs are saved; none: PDFs answer 'unavailable'. */
  readonly pdfDir?: string | null;
  /** Print and save a PDF of each receipt as it is issued. Default true. */
  readonly autoPrint?: boolean;
  /** How often the payment network is probed (ms); 0 turns it off. Default 5 s. */
  readonly probeEveryMs?: number;
  readonly clock?: { now(): number };
  /** The shop's time zone (IANA name): "today" in the history is the business day there. Default: the machine's. */
  readonly timeZone?: string;
}

type Handler<C extends RequestChannel> = (req: RequestOf<C>) => Promise<ResponseOf<C>> | ResponseOf<C>;
type Handlers = { readonly [C in RequestChannel]: Handler<C> };
type Push = <E extends EventChannel>(event: E, payload: Events[E]) => void;

const KEEP_CLOSED_ROWS = 8;
const upperFirst = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
/** A refusal of this till, for the cashier: what happened and what to do. */
const refusedText = (e: BackendError): string =>
  `${upperFirst(refusalText(e.reason))}: payments cannot be taken. Ask the card company for a new till certificate.`;
const KEEP_RECENT = 20;

export class CashierHost {
  private readonly till: Till;
  private readonly currency: string;
  private readonly clock: { now(): number };
  private readonly timeZone: string;
  private readonly sale: DraftSale;
  private readonly rows = new Map<string, SessionRow>();
  private readonly attempts: AttemptView[] = [];
  private readonly mismatches: MismatchView[] = [];
  private readonly errors: ErrorView[] = [];
  private readonly listeners = new Set<Push>();
  private backend: BackendStatus;
  private lastReceipt: ReceiptView | null = null;
  private readonly offTill: () => void;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  /** How many backend nodes serve, as the last probe found them (null: one address, or not probed yet). */
  private nodes: { readonly up: number; readonly total: number } | null = null;
  /** Work started by events (printing, PDFs), awaited on close. */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly o: CashierHostOptions) {
    this.till = o.till;
    this.currency = o.till.info().currency;
    // The sale being rung up (as the till last kept it).
    this.sale = o.till.sale;
    this.clock = o.clock ?? { now: () => Date.now() };
    this.timeZone = o.timeZone ?? machineTimeZone();
    if (!isTimeZone(this.timeZone)) throw new RangeError(`unknown time zone "${this.timeZone}"`);
    this.backend = { health: 'unknown', message: 'Checking the payment network…', since: this.clock.now() };
    for (const s of this.till.sessionSnapshots())
      this.rows.set(s.id, sessionRow(s, undefined, this.clock.now()));
    this.offTill = this.till.onEvent((e) => this.onTillEvent(e));
    const every = o.probeEveryMs ?? 5_000;
    if (every > 0) {
      void this.probe();
      this.probeTimer = setInterval(() => void this.probe(), every);
      this.probeTimer.unref?.();
    }
  }

  /** Subscribes to every pushed event; returns the unsubscribe function. */
  subscribe(listener: Push): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Validates and runs one request. Throws ApiError for anything the caller did wrong. */
  async invoke(channel: string, payload: unknown): Promise<unknown> {
    if (!isRequestChannel(channel))
      throw new ApiError('unknown_channel', `no channel "${channel.slice(0, 64)}"`);
    return this.run(channel, payload);
  }

  private async run<C extends RequestChannel>(channel: C, payload: unknown): Promise<ResponseOf<C>> {
    const parsed = parseRequest(channel, payload);
    if (!parsed.ok) throw new ApiError('bad_request', parsed.message);
    const handler: Handler<C> = this.handlers[channel];
    try {
      return await handler(parsed.value);
    } catch (error) {
      if (error instanceof TillError) throw new ApiError(error.code, error.message);
      throw error;
    }
  }

  /** One handler per channel of the contract, each typed by it (a payload is never cast). */
  private readonly handlers: Handlers = {
    'till:snapshot': () => this.snapshot(),
    'catalog:search': ({ query, limit }) =>
      this.o.catalog.search(query, limit ?? 20).map((p) => productView(p, this.currency)),
    'catalog:scan': ({ barcode }) => {
      const p = this.o.catalog.byBarcode(barcode);
      return p ? productView(p, this.currency) : null;
    },
    'catalog:upsert': ({ sku, barcode, name, priceMinor }) => {
      const existing = this.o.catalog.byBarcode(barcode ?? '');
      if (existing && existing.sku !== sku)
        throw new ApiError('conflict', `barcode already used by ${existing.sku}`);
      return productView(
        this.o.catalog.upsert({ sku, barcode: barcode ?? null, name, priceMinor }),
        this.currency,
      );
    },
    'draft:add': ({ sku, quantity }) => {
      const p = this.o.catalog.bySku(sku);
      if (!p) throw new ApiError('not_found', `no product ${sku}`);
      this.sale.add(p, quantity ?? 1);
      return this.saleChanged();
    },
    'draft:set-quantity': ({ sku, quantity }) => (this.sale.setQuantity(sku, quantity), this.saleChanged()),
    'draft:remove': ({ sku }) => (this.sale.remove(sku), this.saleChanged()),
    'draft:clear': () => (this.sale.clear(), this.saleChanged()),
    'basket:charge': () => basketView(this.chargeSale()),
    'basket:assign': ({ basketId, sessionId }) => this.assign(basketId, sessionId),
    'basket:cancel': ({ basketId }) => {
      // Taken back: its items return to the sale being rung up, to change and charge again.
      this.sale.takeBack(basketId);
      this.saleChanged();
      this.basketsChanged();
      return { basketId };
    },
    'session:cancel': ({ sessionId }) => {
      if (!this.till.cancelSession(sessionId))
        throw new ApiError(
          'conflict',
          `phone ${sessionId} is not waiting on its phone (gone, or its payment is with the network)`,
        );
      this.basketsChanged();
      return { sessionId };
    },
    'basket:pay-code': ({ basketId, code }) => this.payWithCode(basketId, code),
    'receipt:history': ({ query, date, limit }) => this.history(query, date, limit),
    'receipt:print': ({ terminalTxnId }) => this.print(terminalTxnId),
    'receipt:pdf': ({ terminalTxnId }) => this.pdf(terminalTxnId),
    'receipt:refund': ({ terminalTxnId, amountMinor }) => this.refund(terminalTxnId, amountMinor),
    'receipt:void': ({ terminalTxnId }) => this.voidSale(terminalTxnId),
    'batch:close': () => this.closeBatch(),
    'auth:sign-in': () => this.gateOnly('auth:sign-in'),
    'auth:resume': () => this.gateOnly('auth:resume'),
    'auth:sign-out': () => this.gateOnly('auth:sign-out'),
  };

  private gateOnly(channel: AuthChannel): never {
    throw new Error(`${channel} is answered by the session gate (cashier-auth.ts), not the host`);
  }

  snapshot(): TillSnapshot {
    return {
      counterName: this.till.info().counterName,
      currency: this.currency,
      sessions: [...this.rows.values()],
      baskets: this.till.baskets
        .list()
        .filter((b) => b.state !== 'paid')
        .map(basketView),
      draft: this.draftView(),
      backend: this.backend,
      attempts: [...this.attempts],
      lastReceipt: this.lastReceipt,
      mismatches: [...this.mismatches],
      errors: [...this.errors],
    };
  }

  private draftView(): DraftView {
    const total = this.sale.total();
    return {
      lines: this.sale.items().map((l) => lineView(l, this.currency)),
      totalMinor: total.minor,
      totalText: formatMoney(total),
    };
  }

  /** The sale changed (the core has kept it): shown. */
  private saleChanged(): DraftView {
    const view = this.draftView();
    this.push('draft:changed', view);
    this.push('till:changed', this.snapshot());
    return view;
  }

  /** The sale rung up becomes a waiting basket. */
  private chargeSale(toWaitingPhone = true): Basket {
    const basket = this.sale.charge(toWaitingPhone);
    this.saleChanged();
    this.basketsChanged();
    return basket;
  }

  private basketsChanged(): void {
    this.push('basket:changed', this.snapshot().baskets as Events['basket:changed']);
    this.push('till:changed', this.snapshot());
  }

  private assign(basketId: string, sessionId: string) {
    const session = this.till.sessionSnapshots().find((s) => s.id === sessionId);
    if (!session) throw new ApiError('not_found', `no phone ${sessionId} is connected`);
    if (
      session.basketId ||
      this.till.baskets.list().some((b) => b.sessionId === sessionId && b.state === 'assigned')
    )
      throw new ApiError('conflict', 'that phone already has a basket');
    if (!['connected', 'secured', 'authorizing', 'waiting_for_basket'].includes(session.state))
      throw new ApiError('conflict', `that phone is ${session.state}`);
    const basket = this.till.baskets.get(basketId);
    if (!basket || basket.state !== 'open')
      throw new ApiError('conflict', `basket ${basketId} is not waiting`);
    const got = this.till.baskets.assign(sessionId, basketId);
    if (!got) throw new ApiError('conflict', `basket ${basketId} could not be assigned`);
    const row = this.rows.get(sessionId);
    if (row) this.rows.set(sessionId, { ...row, basketId });
    this.basketsChanged();
    return basketView(got);
  }

  /** The basket named, or the sale being rung up (charged into a basket first), paid with the shopper's code. */
  private async payWithCode(basketId: string | undefined, code: string): Promise<CodePaymentView> {
    checkPaymentCode(code);
    // A sale charged for the code is held for it before a waiting phone could take it.
    const id = basketId ?? this.chargeSale(false).id;
    let res;
    try {
      res = await this.till.payWithCode(id, code);
    } catch (error) {
      this.till.baskets.serveWaiters(); // not held (or no longer): a waiting phone may take it
      if (!(error instanceof BackendError)) throw error;
      this.basketsChanged();
      if (error.code === 'rejected') throw new ApiError('conflict', scrubDigits(error.message));
      if (error.code === 'refused') throw new ApiError('unavailable', refusedText(error));
      throw new ApiError(
        'unavailable',
        'No answer from the payment network: the till confirms the outcome when it is back (nothing is charged twice).',
      );
    }
    this.basketsChanged();
    const r = res.receipt ? ReceiptMessage.decode(res.receipt.receipt) : null;
    return {
      basketId: id,
      terminalTxnId: r?.terminalTxnId ?? '',
      result: res.approved ? 'approved' : 'declined',
      declineCode: res.declineReason,
      declineText: reasonText(res.declineReason),
      receipt: r && res.approved ? receiptView(r, formatReceiptText(r), null) : null,
    };
  }

  /**
   * The receipts of a business day in the shop's zone: the day named (YYYY-MM-DD), else, with
   * words to look for, every day (a sale of yesterday to refund), else today.
   */
  private history(
    query: string | undefined,
    date: string | undefined,
    limit: number | undefined,
  ): ReceiptView[] {
    const words = (query ?? '').trim();
    const span =
      date !== undefined || !words
        ? businessDayBounds(date ?? businessDate(this.clock.now(), this.timeZone), this.timeZone)
        : { startMs: 0, endMs: Number.MAX_SAFE_INTEGER };
    return this.o.receipts
      .list({ sinceMs: span.startMs, untilMs: span.endMs, query: words, limit: limit ?? 100 })
      .map((s) => receiptView(s.receipt, formatReceiptText(s.receipt), s.sessionId));
  }

  private stored(txn: string): Receipt {
    const s = this.o.receipts.get(txn);
    if (!s) throw new ApiError('not_found', `no receipt ${txn}`);
    return s.receipt;
  }

  /** A sale of this till's receipt store that is approved: what refund and void apply to. */
  private approvedSale(txn: string): Receipt {
    const r = this.stored(txn);
    if ((r.kind || 'sale') !== 'sale') throw new ApiError('bad_request', `${txn} is a ${r.kind}, not a sale`);
    if (r.result !== 'approved') throw new ApiError('conflict', `${txn} was declined: nothing to give back`);
    return r;
  }

  private async refund(txn: string, amountMinor: number): Promise<AdjustmentView> {
    this.approvedSale(txn);
    const res = await this.backendCall(() => this.till.refund(txn, amountMinor));
    const left = formatMoney(res.refundableLeft ?? { minor: 0, currency: this.currency });
    return this.adjustmentView('refund', txn, res.approved, res.declineReason, res.receipt, left);
  }

  private async voidSale(txn: string): Promise<AdjustmentView> {
    this.approvedSale(txn);
    const res = await this.backendCall(() => this.till.voidSale(txn));
    return this.adjustmentView('void', txn, res.approved, res.declineReason, res.receipt, '');
  }

  /** Closes the day; refused when no receipt was issued since this till's last close (it would be an empty batch). */
  private async closeBatch(): Promise<BatchView> {
    const last = this.o.receipts.lastCloseAt();
    if (last !== null && this.o.receipts.countAfter(last) === 0)
      throw new ApiError(
        'conflict',
        `Nothing was sold, refunded or voided since the day was last closed (${new Date(last).toISOString()}): there is nothing to close.`,
      );
    const res = await this.backendCall(() => this.till.closeBatch());
    this.o.receipts.recordClose(res.batchId, res.closedAtMs);
    return batchView(res, this.currency);
  }

  private adjustmentView(
    kind: 'refund' | 'void',
    txn: string,
    approved: boolean,
    decline: string,
    signed: SignedReceipt | undefined,
    left: string,
  ): AdjustmentView {
    const r = approved && signed ? ReceiptMessage.decode(signed.receipt) : null;
    return {
      kind,
      originalTxnId: txn,
      result: approved ? 'approved' : 'declined',
      declineCode: decline,
      declineText: reasonText(decline),
      receipt: r ? receiptView(r, formatReceiptText(r), null) : null,
      refundableLeftText: left,
    };
  }

  /** The payment network's failures, as the cashier's API says them. */
  private async backendCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof BackendError)) throw error;
      if (error.code === 'rejected') throw new ApiError('conflict', scrubDigits(error.message));
      if (error.code === 'refused') throw new ApiError('unavailable', refusedText(error));
      throw new ApiError(
        'unavailable',
        'The payment network did not answer: try again (nothing is refunded or closed twice).',
      );
    }
  }

  private async print(txn: string): Promise<PrintResult> {
    const receipt = this.stored(txn);
    const printer = this.o.printer;
    if (!printer) throw new ApiError('unavailable', 'no receipt printer is configured');
    const bytes = receiptToEscPos(receipt);
    try {
      await printer.print(bytes);
    } catch (error) {
      throw new ApiError('unavailable', scrubDigits((error as Error).message));
    }
    return { terminalTxnId: txn, sink: printer.sink, bytes: bytes.length };
  }

  private async pdf(txn: string): Promise<PdfResult> {
    const receipt = this.stored(txn);
    if (!this.o.pdfDir) throw new ApiError('unavailable', 'no folder for receipt PDFs is configured');
    const bytes = await receiptToPdf(receipt);
    mkdirSync(this.o.pdfDir, { recursive: true });
    const path = join(this.o.pdfDir, `receipt-${txn.replace(/[^A-Za-z0-9._-]/g, '_')}.pdf`);
    writeFileSync(path, bytes);
    return { terminalTxnId: txn, path, bytes: bytes.length };
  }

  private onTillEvent(e: TillEvent): void {
    const now = this.clock.now();
    switch (e.type) {
      case 'session': {
        const basket = e.session.basketId ? this.till.baskets.get(e.session.basketId) : undefined;
        const row = sessionRow(
          e.session,
          this.rows.get(e.session.id),
          now,
          basket?.state === 'paid' && basket.sessionId === e.session.id,
        );
        this.rows.set(row.id, row);
        this.pruneRows();
        // A till the card company refuses stays "refused" (the probe says when that ends), not "unreachable".
        if (row.declineCode === 'backend_unavailable' && this.backend.health !== 'refused')
          this.setBackend(
            'unreachable',
            'The payment network is not reachable: payments cannot be taken. Nothing is charged twice.',
          );
        else if (row.phase === 'awaiting_payment' || row.phase === 'approved' || row.declineCode)
          this.setBackend('reachable', 'Payment network connected');
        this.push('session:changed', row);
        if (row.phase !== 'connecting' || row.closed) this.basketsChanged();
        else this.push('till:changed', this.snapshot());
        return;
      }
      case 'attempt': {
        const view: AttemptView = {
          terminalTxnId: e.terminalTxnId,
          basketId: e.basketId,
          state: e.state,
          at: now,
        };
        const i = this.attempts.findIndex((a) => a.terminalTxnId === e.terminalTxnId);
        if (i >= 0) this.attempts.splice(i, 1);
        this.attempts.unshift(view);
        this.attempts.length = Math.min(this.attempts.length, KEEP_RECENT);
        if (e.state === 'unresolved' && this.backend.health !== 'refused')
          this.setBackend(
            'unreachable',
            'No answer from the payment network: the till will confirm the outcome when it is back.',
          );
        if (e.state === 'approved' || e.state === 'declined')
          this.setBackend('reachable', 'Payment network connected');
        this.push('attempt:changed', view);
        this.basketsChanged();
        return;
      }
      case 'receipt': {
        this.o.receipts.save(e.receipt, e.sessionId);
        const view = receiptView(e.receipt, formatReceiptText(e.receipt), e.sessionId);
        this.lastReceipt = view;
        this.push('receipt:issued', view);
        this.push('till:changed', this.snapshot());
        if (this.o.autoPrint ?? true) this.track(this.output(e.receipt.terminalTxnId));
        return;
      }
      case 'mismatch': {
        const view = mismatchView(e.sessionId, e.basketId, e.decline, now);
        this.mismatches.unshift(view);
        this.mismatches.length = Math.min(this.mismatches.length, KEEP_RECENT);
        this.push('mismatch:found', view);
        this.push('till:changed', this.snapshot());
        return;
      }
      case 'error':
        this.raise({ sessionId: e.sessionId, code: e.code, message: scrubDigits(e.message), at: now });
        return;
      default:
        return assertNever(e, 'till event');
    }
  }

  /** Prints and saves the PDF of a new receipt; failures become an error the cashier sees. */
  private async output(txn: string): Promise<void> {
    if (this.o.printer)
      await this.print(txn).catch((e: unknown) =>
        this.raise({ sessionId: null, code: 'printer', message: (e as Error).message, at: this.clock.now() }),
      );
    if (this.o.pdfDir)
      await this.pdf(txn).catch((e: unknown) =>
        this.raise({
          sessionId: null,
          code: 'pdf',
          message: scrubDigits((e as Error).message),
          at: this.clock.now(),
        }),
      );
  }

  private raise(view: ErrorView): void {
    this.errors.unshift(view);
    this.errors.length = Math.min(this.errors.length, KEEP_RECENT);
    this.push('error:raised', view);
    this.push('till:changed', this.snapshot());
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private pruneRows(): void {
    const closed = [...this.rows.values()].filter((r) => r.closed).sort((a, b) => b.updatedAt - a.updatedAt);
    for (const r of closed.slice(KEEP_CLOSED_ROWS)) this.rows.delete(r.id);
  }

  /** The till's offline figures for the status line, money formatted in the till's currency. */
  private offlineView(): OfflineView | undefined {
    const s = this.till.offlineStatus();
    if (!s) return undefined;
    const currency = this.till.info().currency;
    const money = (minor: number) => formatMoney({ minor, currency });
    return {
      open: s.open,
      exposureText: money(s.exposureMinor),
      exposureLimitText: money(s.exposureLimitMinor),
      lossesToday: s.lossesToday,
      lossTextToday: money(s.lossMinorToday),
      available: s.available,
      validUntilText:
        s.validUntilMs === null
          ? null
          : new Intl.DateTimeFormat('en-GB', {
              timeZone: this.timeZone,
              day: '2-digit',
              month: '2-digit',
              hour: '2-digit',
              minute: '2-digit',
            }).format(s.validUntilMs),
    };
  }

  private async probe(): Promise<void> {
    const ok = await this.till
      .probeBackend()
      .catch((e: unknown) => (e instanceof BackendError && e.code === 'refused' ? e : false));
    this.nodes = this.till.backendNodes();
    if (ok instanceof BackendError) this.setBackend('refused', refusedText(ok));
    else if (ok) this.setBackend('reachable', 'Payment network connected');
    else
      this.setBackend(
        'unreachable',
        'The payment network is not reachable: payments cannot be taken right now.',
      );
  }

  /** The backend's health; reachable with some of several nodes down says how many serve (the last probe's count). */
  private setBackend(health: BackendStatus['health'], message: string): void {
    const nodes = this.nodes;
    const some = health === 'reachable' && nodes !== null && nodes.total > 1 && nodes.up < nodes.total;
    if (some)
      message = `Payment network connected: ${nodes.up} of ${nodes.total} nodes serve (payments go to those)`;
    const offline = this.offlineView();
    if (
      this.backend.health === health &&
      this.backend.message === message &&
      JSON.stringify(this.backend.offline) === JSON.stringify(offline)
    )
      return;
    this.backend = {
      health,
      message,
      since: this.clock.now(),
      ...(nodes ? { nodes } : {}),
      ...(offline ? { offline } : {}),
    };
    this.push('backend:changed', this.backend);
    this.push('till:changed', this.snapshot());
  }

  /** Waits for receipts being printed or saved. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private push<E extends EventChannel>(event: E, payload: Events[E]): void {
    for (const l of this.listeners) {
      try {
        l(event, payload);
      } catch {
        // a listener that throws (a closed socket) must not stop the others
      }
    }
  }

  async close(): Promise<void> {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.offTill();
    await this.idle();
    this.listeners.clear();
  }
}
