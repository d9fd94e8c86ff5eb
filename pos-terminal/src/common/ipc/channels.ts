/**
 * The typed contract between the cashier UI and its host (Electron main over IPC, or the headless
 * server over WebSocket): channel names `area:verb`, request and response payloads, pushed events.
 * Kept free of zod so the preload can import the channel lists.
 */
import type {
  AdjustmentView,
  AttemptView,
  BackendStatus,
  BasketView,
  BatchView,
  CodePaymentView,
  DraftView,
  ErrorView,
  MismatchView,
  PdfResult,
  PrintResult,
  ProductView,
  ReceiptView,
  SessionRow,
  TillSnapshot,
} from './view-models';

/** A manager's credentials, entered at the till for one action (a refund or void above the limit, the day's close). */
export interface Approval {
  readonly managerId: string;
  readonly secret: string;
}

/** Who is signed in on this connection. */
export interface CashierSessionView {
  readonly cashierId: string;
  readonly name: string;
  readonly role: 'cashier' | 'manager';
  /** Refunds and voids above this need a manager (minor units of the till's currency). */
  readonly approvalLimitMinor: number;
  /** Signs this page in again after a lost connection (kept in memory only); '' for Electron and tokens. */
  readonly resumeToken: string;
}

export interface Requests {
  /** Answered by the host's session gate before anything else; every other channel needs a signed-in cashier. */
  'auth:sign-in': { req: { cashierId: string; secret: string }; res: CashierSessionView };
  'auth:resume': { req: { resumeToken: string }; res: CashierSessionView };
  'auth:sign-out': { req: Record<string, never>; res: { signedOut: true } };
  'till:snapshot': { req: Record<string, never>; res: TillSnapshot };
  'catalog:search': { req: { query: string; limit?: number }; res: ProductView[] };
  'catalog:scan': { req: { barcode: string }; res: ProductView | null };
  'catalog:upsert': {
    req: { sku: string; barcode?: string | null; name: string; priceMinor: number };
    res: ProductView;
  };
  'draft:add': { req: { sku: string; quantity?: number }; res: DraftView };
  'draft:set-quantity': { req: { sku: string; quantity: number }; res: DraftView };
  'draft:remove': { req: { sku: string }; res: DraftView };
  'draft:clear': { req: Record<string, never>; res: DraftView };
  'basket:charge': { req: Record<string, never>; res: BasketView };
  'basket:assign': { req: { basketId: string; sessionId: string }; res: BasketView };
  'basket:cancel': { req: { basketId: string }; res: { basketId: string } };
  /** Ends a phone's session that waits on the phone (for its card or its Payment); its basket waits again. */
  'session:cancel': { req: { sessionId: string }; res: { sessionId: string } };
  /** Pays a waiting basket (or, without basketId, the sale being rung up) with the shopper's payment code. */
  'basket:pay-code': { req: { basketId?: string; code: string }; res: CodePaymentView };
  'receipt:history': { req: { query?: string; date?: string; limit?: number }; res: ReceiptView[] };
  'receipt:print': { req: { terminalTxnId: string }; res: PrintResult };
  'receipt:pdf': { req: { terminalTxnId: string }; res: PdfResult };
  'receipt:refund': {
    req: { terminalTxnId: string; amountMinor: number; approval?: Approval };
    res: AdjustmentView;
  };
  'receipt:void': { req: { terminalTxnId: string; approval?: Approval }; res: AdjustmentView };
  'batch:close': { req: { approval?: Approval }; res: BatchView };
}

export interface Events {
  'till:changed': TillSnapshot;
  'session:changed': SessionRow;
  'attempt:changed': AttemptView;
  'receipt:issued': ReceiptView;
  'mismatch:found': MismatchView;
  'error:raised': ErrorView;
  'backend:changed': BackendStatus;
  'basket:changed': BasketView[];
  'draft:changed': DraftView;
}

export type RequestChannel = keyof Requests;
export type EventChannel = keyof Events;
export type RequestOf<C extends RequestChannel> = Requests[C]['req'];
export type ResponseOf<C extends RequestChannel> = Requests[C]['res'];

export const REQUEST_CHANNELS = [
  'auth:sign-in',
  'auth:resume',
  'auth:sign-out',
  'till:snapshot',
  'catalog:search',
  'catalog:scan',
  'catalog:upsert',
  'draft:add',
  'draft:set-quantity',
  'draft:remove',
  'draft:clear',
  'basket:charge',
  'basket:assign',
  'basket:cancel',
  'session:cancel',
  'basket:pay-code',
  'receipt:history',
  'receipt:print',
  'receipt:pdf',
  'receipt:refund',
  'receipt:void',
  'batch:close',
] as const satisfies readonly RequestChannel[];

export const EVENT_CHANNELS = [
  'till:changed',
  'session:changed',
  'attempt:changed',
  'receipt:issued',
  'mismatch:found',
  'error:raised',
  'backend:changed',
  'basket:changed',
  'draft:changed',
] as const satisfies readonly EventChannel[];

export const isRequestChannel = (s: string): s is RequestChannel =>
  (REQUEST_CHANNELS as readonly string[]).includes(s);
export const isEventChannel = (s: string): s is EventChannel =>
  (EVENT_CHANNELS as readonly string[]).includes(s);

/** The channels the session gate answers itself (no cashier signed in needed). */
export const AUTH_CHANNELS = [
  'auth:sign-in',
  'auth:resume',
  'auth:sign-out',
] as const satisfies readonly RequestChannel[];
export type AuthChannel = (typeof AUTH_CHANNELS)[number];
export const isAuthChannel = (s: string): s is AuthChannel =>
  (AUTH_CHANNELS as readonly string[]).includes(s);

export type ApiErrorCode =
  | 'bad_request'
  | 'too_large'
  | 'unknown_channel'
  | 'not_found'
  | 'conflict'
  | 'unavailable'
  | 'internal'
  /** No cashier is signed in on this connection (or the sign-in failed). */
  | 'unauthenticated'
  /** The action needs a manager's approval (or the one given was refused). */
  | 'approval_required'
  /** Too many failed sign-ins: wait. */
  | 'rate_limited';

/** An error the host returns instead of a result; `code` is stable, `message` is for people. */
export interface ApiErrorBody {
  readonly code: ApiErrorCode;
  readonly message: string;
}
