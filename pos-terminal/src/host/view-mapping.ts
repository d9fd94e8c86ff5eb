/** Turns the core's records into the UI's view models: money formatted, decline codes in words. */
import {
  declineText,
  formatMoney,
  isDeclineCode,
  type CloseBatchResponse,
  type Item,
  type Receipt,
} from '@bluetill/protocol';
import type { SessionSnapshot } from '../common/session';
import type { Basket } from '../common/basket';
import type { Product } from '../adapters/catalog/catalog';
import { reasonWords } from '../common/ipc/session-words';
import type {
  BasketView,
  BatchView,
  LineView,
  MismatchView,
  ProductView,
  ReceiptKind,
  ReceiptView,
  SessionPhase,
  SessionRow,
} from '../common/ipc/view-models';

/** Any run of 12+ digits in a message becomes asterisks: no card number reaches the screen. */
export const scrubDigits = (text: string): string => text.replace(/\d{12,}/g, (d) => '*'.repeat(d.length));

export const reasonText = (code: string | null | undefined): string =>
  code && isDeclineCode(code) ? declineText(code) : code ? code.replace(/_/g, ' ') : '';

export const productView = (p: Product, currency: string): ProductView => ({
  ...p,
  priceText: formatMoney({ minor: p.priceMinor, currency }),
});

export const lineView = (i: Item, currency: string): LineView => ({
  sku: i.sku,
  name: i.name,
  quantity: i.quantity,
  unitPriceMinor: i.unitPriceMinor,
  unitPriceText: formatMoney({ minor: i.unitPriceMinor, currency }),
  lineTotalText: formatMoney({ minor: i.unitPriceMinor * i.quantity, currency }),
});

/** What the cashier sees of a basket's state: held for a code reads as taken (not waiting); a released one is no longer listed. */
const BASKET_STATUS: Record<Basket['state'], BasketView['status']> = {
  open: 'open',
  assigned: 'assigned',
  held_for_code: 'assigned',
  paid: 'paid',
  released: 'open',
};

export const basketView = (b: Basket): BasketView => ({
  id: b.id,
  status: BASKET_STATUS[b.state],
  sessionId: b.sessionId,
  heldBy: b.holder?.kind ?? null,
  lines: b.items.map((i) => lineView(i, b.total.currency)),
  totalText: formatMoney(b.total),
  receiptTxnId: b.receiptTxnId,
});

const PHASE: Record<Exclude<SessionSnapshot['state'], 'closed'>, SessionPhase> = {
  connected: 'connecting',
  secured: 'card_check',
  authorizing: 'authorizing',
  waiting_for_basket: 'waiting_for_basket',
  authorized: 'awaiting_payment',
  paying: 'paying',
  approved: 'approved',
  declined: 'declined',
  failed: 'failed',
};

const FINAL: readonly SessionPhase[] = ['approved', 'declined', 'failed'];

/** The row for a session event; a 'closed' snapshot keeps the outcome the row already shows. */
export function sessionRow(
  s: SessionSnapshot,
  previous: SessionRow | undefined,
  now: number,
  basketPaid = false,
): SessionRow {
  const closed = s.state === 'closed';
  let phase: SessionPhase = closed ? (previous?.phase ?? 'failed') : PHASE[s.state];
  // A phone that hangs up as soon as it reads a decline closes the session before the core moves
  // it to 'declined': the decline code it carries is the outcome.
  // Likewise a phone that hangs up on reading its receipt: the paid basket says it was approved.
  if (closed && !FINAL.includes(phase))
    phase =
      basketPaid && !s.decline
        ? 'approved'
        : s.decline && s.decline !== 'backend_unavailable'
          ? 'declined'
          : 'failed';
  const detail = scrubDigits(s.detail);
  return {
    id: s.id,
    phase,
    label: sessionLabel(
      phase,
      s.decline,
      reasonWords(detail),
      closed && !FINAL.includes(previous?.phase ?? 'failed') && !s.decline && !basketPaid,
    ),
    basketId: s.basketId ?? previous?.basketId ?? null,
    maskedPan: s.maskedPan ?? previous?.maskedPan ?? null,
    declineCode: s.decline ?? null,
    detail,
    closed,
    updatedAt: now,
  };
}

function sessionLabel(
  phase: SessionPhase,
  decline: string | null,
  detail: string,
  leftEarly: boolean,
): string {
  switch (phase) {
    case 'connecting':
      return 'Connecting';
    case 'card_check':
      return 'Secured · reading card';
    case 'authorizing':
      return 'Checking card and PIN';
    case 'waiting_for_basket':
      return 'Phone waiting for a basket';
    case 'awaiting_payment':
      return 'Authorized · shopper confirming';
    case 'paying':
      return 'Paying';
    case 'approved':
      return 'Approved';
    case 'declined':
      return `Declined: ${reasonText(decline) || 'no reason given'}${decline === 'amount_mismatch' || decline === 'items_mismatch' ? ' (nothing was charged)' : ''}`;
    case 'failed':
      if (decline === 'backend_unavailable') return 'Failed: payment network unreachable';
      if (decline === 'cancelled') return `Cancelled${detail ? `: ${detail}` : ''}`;
      return leftEarly ? `Phone left${detail ? `: ${detail}` : ''}` : `Failed${detail ? `: ${detail}` : ''}`;
  }
}

export function mismatchView(sessionId: string, basketId: string, code: string, at: number): MismatchView {
  const what =
    code === 'amount_mismatch'
      ? "The phone's sum differs from the basket"
      : code === 'items_mismatch'
        ? "The phone's items differ from the basket"
        : reasonText(code);
  return {
    sessionId,
    basketId,
    declineCode: code,
    message: `${what}: payment declined, nothing was charged.`,
    at,
  };
}

const TIME = new Intl.DateTimeFormat('en-GB', { dateStyle: 'short', timeStyle: 'medium' });

export function receiptView(r: Receipt, text: string, sessionId: string | null): ReceiptView {
  const currency = r.total?.currency ?? 'EUR';
  return {
    terminalTxnId: r.terminalTxnId,
    kind: receiptKind(r.kind),
    originalTxnId: r.originalTxnId,
    totalMinor: r.total?.minor ?? 0,
    merchantName: r.merchantName,
    terminalId: r.terminalId,
    issuedAtMs: r.issuedAtMs,
    issuedAtText: TIME.format(new Date(r.issuedAtMs)),
    result: r.result === 'approved' ? 'approved' : 'declined',
    approvalCode: r.approvalCode,
    declineText: reasonText(r.declineReason),
    maskedPan: r.maskedPan,
    lines: r.items.map((i) => lineView(i, currency)),
    totalText: formatMoney(r.total ?? { minor: 0, currency }),
    text,
    sessionId,
  };
}

const receiptKind = (k: string): ReceiptKind => (k === 'refund' || k === 'void' ? k : 'sale');

export function batchView(b: CloseBatchResponse, fallbackCurrency: string): BatchView {
  const t = b.totals ?? {
    currency: '',
    saleCount: 0,
    saleMinor: 0,
    refundCount: 0,
    refundMinor: 0,
    voidCount: 0,
    voidMinor: 0,
    netMinor: 0,
  };
  const currency = t.currency || fallbackCurrency;
  const m = (minor: number) => formatMoney({ minor, currency });
  return {
    batchId: b.batchId,
    openedAtText: TIME.format(new Date(b.openedAtMs)),
    closedAtText: TIME.format(new Date(b.closedAtMs)),
    currency,
    saleCount: t.saleCount,
    saleMinor: t.saleMinor,
    saleText: m(t.saleMinor),
    refundCount: t.refundCount,
    refundMinor: t.refundMinor,
    refundText: m(t.refundMinor),
    voidCount: t.voidCount,
    voidMinor: t.voidMinor,
    voidText: m(t.voidMinor),
    netMinor: t.netMinor,
    netText: m(t.netMinor),
  };
}
