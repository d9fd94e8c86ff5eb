/**
 * The till's offline policy (pure): whether a sale the card approved offline (its TC checked by
 * offline-approval.ts) may be approved by the till while the card company cannot be reached, and
 * the state that decision moves. Approved only when all hold:
 * - the card company is unreachable — a typed reason from the caller (no connection, no route),
 *   never merely slow: a slow answer may still come, and an online outcome is resolved by asking;
 * - the card is not on the till's copy of the block list (refreshed while online);
 * - the sale is in the till's currency and at most the merchant's floor limit;
 * - the card's offline sales of the shop's business day (business-day.ts), this one included, stay
 *   within the per-card daily count and amount;
 * - the till's offline exposure (approved offline, not yet settled by the card company), this
 *   sale included, stays within its limit.
 * Time only moves forward here: the policy keeps the highest clock reading it has seen and counts
 * days by it, so a till clock set back cannot reach an earlier day's unused allowance, nor start
 * the current day's again. Anything outside is the decline "card company unreachable" naming the
 * limit that stopped it.
 */
import type { Money } from '@bluetill/protocol';
import { businessDate, isTimeZone } from '../business-day';

/** Why the card company is out of reach, as the backend client saw it. Only `unreachable` allows offline. */
export type BackendReachability = 'reachable' | 'slow' | 'unreachable';

export type OfflinePolicyLimits = {
  /** The till's currency (ISO 4217 alphabetic); sales in another are never approved offline. */
  readonly currency: string;
  /** The merchant's floor limit: the largest sale approved offline (minor units). */
  readonly floorLimitMinor: number;
  /** Offline sales per card per business day. */
  readonly perCardDailyCount: number;
  /** Offline amount per card per business day (minor units). */
  readonly perCardDailyAmountMinor: number;
  /** The till's total offline exposure: approved offline and not yet settled (minor units). */
  readonly exposureMinor: number;
  /** The shop's time zone (IANA name) for its business day. */
  readonly timeZone: string;
};

/** What a card used of its daily allowance, on the business day `day`. */
export type CardAllowance = { readonly day: string; readonly count: number; readonly amountMinor: number };

export type OfflinePolicyState = {
  /** The highest clock reading seen (ms since the epoch); the day is counted by it. */
  readonly highestTimeMs: number;
  /** Approved offline, not yet settled (minor units). */
  readonly exposureMinor: number;
  /** By card key (a keyed hash of the card number the caller computes; never the number itself). */
  readonly cards: ReadonlyMap<string, CardAllowance>;
};

export const EMPTY_OFFLINE_STATE: OfflinePolicyState = Object.freeze({
  highestTimeMs: 0,
  exposureMinor: 0,
  cards: new Map<string, CardAllowance>(),
});

export type OfflineLimitName =
  /** No offline parameters from the card company in force (none fetched, expired, or dropped). */
  | 'no_parameters'
  | 'card_company_reachable'
  | 'card_company_slow'
  | 'card_blocked'
  | 'currency'
  | 'floor_limit'
  | 'card_daily_count'
  | 'card_daily_amount'
  | 'till_exposure';

export type OfflineDecision =
  | { readonly approved: true }
  | {
      readonly approved: false;
      readonly decline: 'card_company_unreachable';
      readonly limit: OfflineLimitName;
    };

export type OfflineSale = {
  readonly nowMs: number;
  readonly backend: BackendReachability;
  readonly cardKey: string;
  readonly amount: Money;
};

/** The till's copy of the block list, by card key. */
export interface BlockList {
  has(cardKey: string): boolean;
}

export class OfflinePolicyError extends Error {
  constructor(
    readonly code: 'bad_limits' | 'bad_sale',
    message: string,
  ) {
    super(message);
    this.name = 'OfflinePolicyError';
  }
}

const isAmount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** Throws OfflinePolicyError('bad_limits') when a limit is not a whole non-negative number or the zone is unknown. */
export function checkOfflinePolicyLimits(l: OfflinePolicyLimits): void {
  for (const [name, v] of [
    ['floor limit', l.floorLimitMinor],
    ['per-card daily count', l.perCardDailyCount],
    ['per-card daily amount', l.perCardDailyAmountMinor],
    ['offline exposure', l.exposureMinor],
  ] as const) {
    if (!isAmount(v)) throw new OfflinePolicyError('bad_limits', `${name} must be a whole number, 0 or more`);
  }
  if (!/^[A-Z]{3}$/.test(l.currency))
    throw new OfflinePolicyError('bad_limits', 'currency must be an ISO 4217 code');
  if (!isTimeZone(l.timeZone)) throw new OfflinePolicyError('bad_limits', 'time zone unknown');
}

const decline = (limit: OfflineLimitName): OfflineDecision => ({
  approved: false,
  decline: 'card_company_unreachable',
  limit,
});

/**
 * Decides one sale and returns the state after it (moved only by an approval, and by the clock
 * reading, which only ever goes up). Throws OfflinePolicyError('bad_sale') for a malformed sale.
 */
export function decideOffline(
  state: OfflinePolicyState,
  limits: OfflinePolicyLimits,
  blockList: BlockList,
  sale: OfflineSale,
): { decision: OfflineDecision; state: OfflinePolicyState } {
  if (!isAmount(sale.amount.minor) || sale.amount.minor === 0)
    throw new OfflinePolicyError('bad_sale', 'amount must be a whole number above 0');
  if (!Number.isSafeInteger(sale.nowMs) || sale.nowMs < 0)
    throw new OfflinePolicyError('bad_sale', 'clock reading must be ms since the epoch');
  if (sale.cardKey.length === 0) throw new OfflinePolicyError('bad_sale', 'card key missing');
  const highestTimeMs = Math.max(state.highestTimeMs, sale.nowMs);
  const seen: OfflinePolicyState =
    highestTimeMs === state.highestTimeMs ? state : { ...state, highestTimeMs };
  const no = (limit: OfflineLimitName) => ({ decision: decline(limit), state: seen });
  switch (sale.backend) {
    case 'reachable':
      return no('card_company_reachable');
    case 'slow':
      return no('card_company_slow');
    case 'unreachable':
      break;
    default:
      throw new OfflinePolicyError('bad_sale', 'backend reachability unknown');
  }
  if (blockList.has(sale.cardKey)) return no('card_blocked');
  const amount = sale.amount.minor;
  if (sale.amount.currency !== limits.currency) return no('currency');
  if (amount > limits.floorLimitMinor) return no('floor_limit');
  const day = businessDate(highestTimeMs, limits.timeZone);
  const used = state.cards.get(sale.cardKey);
  const today = used && used.day === day ? used : { day, count: 0, amountMinor: 0 };
  if (today.count + 1 > limits.perCardDailyCount) return no('card_daily_count');
  if (today.amountMinor + amount > limits.perCardDailyAmountMinor) return no('card_daily_amount');
  if (state.exposureMinor + amount > limits.exposureMinor) return no('till_exposure');
  const cards = new Map(state.cards);
  cards.set(sale.cardKey, { day, count: today.count + 1, amountMinor: today.amountMinor + amount });
  return {
    decision: { approved: true },
    state: { highestTimeMs, exposureMinor: state.exposureMinor + amount, cards },
  };
}

/**
 * An offline sale the card company has settled (or recorded as the merchant's loss): it no longer
 * counts in the till's exposure. The card's daily allowance stays used.
 */
export function releaseExposure(state: OfflinePolicyState, amountMinor: number): OfflinePolicyState {
  if (!isAmount(amountMinor) || amountMinor > state.exposureMinor)
    throw new OfflinePolicyError('bad_sale', 'released more than the exposure holds');
  return { ...state, exposureMinor: state.exposureMinor - amountMinor };
}
