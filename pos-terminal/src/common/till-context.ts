import type {
  CancelRequest,
  DeclineCode,
  Receipt,
  SettleRequest,
  SettleResponse,
  TillIdentity,
} from '@bluetill/protocol';
import type { BackendClient } from './ports/backend-client';
import type { Basket, BasketBook } from './basket';
import type { SessionSnapshot } from './session-snapshot';
import type { AttemptState } from './payment-attempt';
import type { OfflineDesk } from './offline/offline-desk';

export type TillEvent =
  | { type: 'session'; session: SessionSnapshot }
  | { type: 'receipt'; receipt: Receipt; sessionId: string | null }
  | { type: 'attempt'; terminalTxnId: string; basketId: string; state: AttemptState }
  | { type: 'mismatch'; sessionId: string; basketId: string; decline: DeclineCode }
  | { type: 'error'; sessionId: string | null; code: string; message: string };

export interface TillLimits {
  readonly maxMessageSize: number;
  readonly reassemblyTimeoutMs: number;
  readonly sessionTimeoutMs: number;
  readonly basketWaitMs: number;
  readonly lingerMs: number;
  /** Hellos the till answers (each costs a backend Challenge): at most `helloBurst` at once, refilled at `hellosPerSecond`. */
  readonly helloBurst: number;
  readonly hellosPerSecond: number;
}

export const DEFAULT_LIMITS: TillLimits = {
  maxMessageSize: 8 * 1024,
  reassemblyTimeoutMs: 5_000,
  sessionTimeoutMs: 120_000,
  basketWaitMs: 30_000,
  // The phone hangs up after the last message; the till only hangs up on a phone that lingers.
  // (Disconnecting sooner can overtake notifications still queued in the BLE host.)
  lingerMs: 10_000,
  // Far above a counter's real rate (a fleet of 100 phones joins in about a second), far below what
  // a flood of links could make the till ask of the authorization server.
  helloBurst: 200,
  hellosPerSecond: 100,
};

/** What a session needs from its till. */
export interface TillContext {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly identity: TillIdentity;
  readonly backend: BackendClient;
  readonly baskets: BasketBook;
  readonly clock: { now(): number };
  readonly limits: TillLimits;
  emit(event: TillEvent): void;
  /** One Hello may be answered now (rate limit on backend Challenges); false: refuse with `busy`. */
  admitHello(): boolean;
  newTxnId(): string;
  /** Settles through the journal: exactly once, outcome resolved by asking when unknown. */
  settle(basket: Basket, req: SettleRequest): Promise<SettleResponse>;
  /** Ends a payment at the settlement server before settling it (signed decline or cancellation), through the journal. */
  cancel(basket: Basket, req: CancelRequest): Promise<SettleResponse>;
  /** A secret the authorized phone can later show to fetch this payment's receipt. */
  issueResumeToken(terminalTxnId: string, basketId: string): Uint8Array;
  /** What became of a payment, for a phone that shows its resume token. */
  lookupOutcome(terminalTxnId: string, resumeToken: Uint8Array): Promise<Outcome>;
  /** Offline mode; null: a till that cannot reach the card company takes no payment. */
  readonly offline: OfflineDesk | null;
}

export type Outcome =
  | { readonly kind: 'settled'; readonly response: SettleResponse }
  | { readonly kind: 'not_charged' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'refused' };
