/**
 * What the cashier UI sees: display-ready data (money already formatted by the host with
 * `formatMoney`, decline reasons already turned into text with `declineText`). No card number
 * beyond the masked PAN, never a PIN.
 */
export type SessionPhase =
  | 'connecting'
  | 'card_check'
  | 'authorizing'
  | 'waiting_for_basket'
  | 'awaiting_payment'
  | 'paying'
  | 'approved'
  | 'declined'
  | 'failed';

export interface SessionRow {
  readonly id: string;
  readonly phase: SessionPhase;
  /** One line for the cashier, e.g. "Declined: Incorrect PIN". */
  readonly label: string;
  readonly basketId: string | null;
  readonly maskedPan: string | null;
  readonly declineCode: string | null;
  readonly detail: string;
  /** The phone has hung up; the row stays a while so the cashier sees the outcome. */
  readonly closed: boolean;
  readonly updatedAt: number;
}

export interface ProductView {
  readonly sku: string;
  readonly barcode: string | null;
  readonly name: string;
  readonly priceMinor: number;
  readonly priceText: string;
}

export interface LineView {
  readonly sku: string;
  readonly name: string;
  readonly quantity: number;
  readonly unitPriceMinor: number;
  readonly unitPriceText: string;
  readonly lineTotalText: string;
}

/** The sale being rung up, before "charge" hands it to the till. */
export interface DraftView {
  readonly lines: readonly LineView[];
  readonly totalMinor: number;
  readonly totalText: string;
}

export type BasketStatus = 'open' | 'assigned' | 'paid';

export interface BasketView {
  readonly id: string;
  readonly status: BasketStatus;
  readonly sessionId: string | null;
  /** Who has it while it is not waiting: a phone (sessionId) or a payment code being settled. */
  readonly heldBy: 'phone' | 'code' | null;
  readonly lines: readonly LineView[];
  readonly totalText: string;
  readonly receiptTxnId: string | null;
}

export type ReceiptKind = 'sale' | 'refund' | 'void';

export interface ReceiptView {
  readonly terminalTxnId: string;
  readonly kind: ReceiptKind;
  /** For a refund or void: the sale's terminal transaction id; '' for a sale. */
  readonly originalTxnId: string;
  readonly totalMinor: number;
  readonly merchantName: string;
  readonly terminalId: string;
  readonly issuedAtMs: number;
  readonly issuedAtText: string;
  readonly result: 'approved' | 'declined';
  readonly approvalCode: string;
  readonly declineText: string;
  readonly maskedPan: string;
  readonly lines: readonly LineView[];
  readonly totalText: string;
  /** The printed layout (32 columns), as the printer gets it. */
  readonly text: string;
  readonly sessionId: string | null;
}

/** `refused`: the card company answered and refused this till (its certificate revoked or unknown). */
export type BackendHealth = 'unknown' | 'reachable' | 'unreachable' | 'refused';

export interface BackendStatus {
  readonly health: BackendHealth;
  readonly message: string;
  readonly since: number;
  /** With several backend nodes: how many serve of how many (the last network probe). */
  readonly nodes?: { readonly up: number; readonly total: number };
  /** The till's offline mode, when it has one: what it approved and has not yet forwarded. */
  readonly offline?: OfflineView;
}

/** Offline mode on the cashier's status line (money already formatted). */
export interface OfflineView {
  /** Approved offline, not yet judged by the card company. */
  readonly open: number;
  readonly exposureText: string;
  readonly exposureLimitText: string;
  /** Today's offline sales the card company did not honour (the merchant's loss). */
  readonly lossesToday: number;
  readonly lossTextToday: string;
  /** Whether the card company's offline parameters are in force: without them nothing is approved offline. */
  readonly available: boolean;
  /** Until when they are (the till's time zone, e.g. "08/12 15:24"); null without any. */
  readonly validUntilText: string | null;
}

export interface AttemptView {
  readonly terminalTxnId: string;
  readonly basketId: string;
  readonly state: 'pending' | 'approved' | 'declined' | 'unresolved' | 'abandoned';
  readonly at: number;
}

export interface MismatchView {
  readonly sessionId: string;
  readonly basketId: string;
  readonly declineCode: string;
  /** Plain words for the cashier, always ending in "nothing was charged". */
  readonly message: string;
  readonly at: number;
}

export interface ErrorView {
  readonly sessionId: string | null;
  readonly code: string;
  readonly message: string;
  readonly at: number;
}

export interface TillSnapshot {
  readonly counterName: string;
  readonly currency: string;
  readonly sessions: readonly SessionRow[];
  readonly baskets: readonly BasketView[];
  readonly draft: DraftView;
  readonly backend: BackendStatus;
  readonly attempts: readonly AttemptView[];
  readonly lastReceipt: ReceiptView | null;
  readonly mismatches: readonly MismatchView[];
  readonly errors: readonly ErrorView[];
}

export interface PrintResult {
  readonly terminalTxnId: string;
  /** Where the ESC/POS bytes went, e.g. "file:/var/…/receipts.escpos" or "tcp:10.0.0.9:9100". */
  readonly sink: string;
  readonly bytes: number;
}

export interface PdfResult {
  readonly terminalTxnId: string;
  readonly path: string;
  readonly bytes: number;
}

/** The answer to a refund or a void: approved with its receipt, or declined with the reason in words. */
export interface AdjustmentView {
  readonly kind: 'refund' | 'void';
  readonly originalTxnId: string;
  readonly result: 'approved' | 'declined';
  readonly declineCode: string;
  readonly declineText: string;
  readonly receipt: ReceiptView | null;
  /** Refunds: what can still be refunded of the sale, formatted. */
  readonly refundableLeftText: string;
}

/** A closed batch (end of day) as the backend totals it. */
export interface BatchView {
  readonly batchId: number;
  readonly openedAtText: string;
  readonly closedAtText: string;
  readonly currency: string;
  readonly saleCount: number;
  readonly saleMinor: number;
  readonly saleText: string;
  readonly refundCount: number;
  readonly refundMinor: number;
  readonly refundText: string;
  readonly voidCount: number;
  readonly voidMinor: number;
  readonly voidText: string;
  readonly netMinor: number;
  readonly netText: string;
}

/** The answer to "pay with code": approved with its receipt, or declined with the reason in words. */
export interface CodePaymentView {
  readonly basketId: string;
  readonly terminalTxnId: string;
  readonly result: 'approved' | 'declined';
  readonly declineCode: string;
  readonly declineText: string;
  readonly receipt: ReceiptView | null;
}
