/**
 * The offline limits a till receives with its offline parameters, and how they are settled: a
 * terminal's own setting overrides its merchant's, the merchant's the card company's default.
 * Amounts are minor units of the merchant's currency.
 *
 * Defaults (the same number of minor units in every currency: 50.00 EUR, or ¥5,000):
 * - floor limit 5,000 (50.00): the largest sale a till approves offline, a small-ticket sale;
 * - offline exposure 100,000 (1,000.00): what one till may have approved offline and not yet
 *   settled — a few hours of small-ticket trade, the most a merchant loses to an outage;
 * - per card per business day: 3 sales and 10,000 (100.00).
 */

export interface OfflineLimitValues {
  readonly floorLimitMinor: number;
  readonly exposureMinor: number;
  readonly cardDailyCount: number;
  readonly cardDailyAmountMinor: number;
}

/** A merchant's or a terminal's settings: null is "not set" (the next level's value applies). */
export type OfflineLimitSettings = { readonly [K in keyof OfflineLimitValues]: number | null };

export const DEFAULT_OFFLINE_LIMIT_VALUES: OfflineLimitValues = Object.freeze({
  floorLimitMinor: 5_000,
  exposureMinor: 100_000,
  cardDailyCount: 3,
  cardDailyAmountMinor: 10_000,
});

export const NO_OFFLINE_LIMIT_SETTINGS: OfflineLimitSettings = Object.freeze({
  floorLimitMinor: null,
  exposureMinor: null,
  cardDailyCount: null,
  cardDailyAmountMinor: null,
});

/** The largest amount setting (minor units) and count accepted. */
export const MAX_OFFLINE_AMOUNT_MINOR = 100_000_000_000;
export const MAX_OFFLINE_CARD_DAILY_COUNT = 1_000;

export const OFFLINE_LIMIT_NAMES: Readonly<Record<keyof OfflineLimitValues, string>> = {
  floorLimitMinor: 'floor limit',
  exposureMinor: 'offline exposure',
  cardDailyCount: 'per-card daily count',
  cardDailyAmountMinor: 'per-card daily amount',
};

/** Why a setting is refused (the message names it); the caller turns it into its own error. */
export function offlineLimitProblem(settings: Partial<OfflineLimitSettings>): string | null {
  for (const [k, v] of Object.entries(settings) as [keyof OfflineLimitValues, number | null | undefined][]) {
    if (!(k in OFFLINE_LIMIT_NAMES)) return `unknown offline limit ${k}`;
    if (v === null || v === undefined) continue;
    const max = k === 'cardDailyCount' ? MAX_OFFLINE_CARD_DAILY_COUNT : MAX_OFFLINE_AMOUNT_MINOR;
    if (!Number.isSafeInteger(v) || v < 0 || v > max)
      return `the ${OFFLINE_LIMIT_NAMES[k]} must be a whole number from 0 to ${max}`;
  }
  return null;
}

/** The limits in force: the terminal's setting, else the merchant's, else the default. */
export function effectiveOfflineLimits(
  merchant: OfflineLimitSettings,
  terminal: OfflineLimitSettings = NO_OFFLINE_LIMIT_SETTINGS,
): OfflineLimitValues {
  const pick = (k: keyof OfflineLimitValues) => terminal[k] ?? merchant[k] ?? DEFAULT_OFFLINE_LIMIT_VALUES[k];
  return {
    floorLimitMinor: pick('floorLimitMinor'),
    exposureMinor: pick('exposureMinor'),
    cardDailyCount: pick('cardDailyCount'),
    cardDailyAmountMinor: pick('cardDailyAmountMinor'),
  };
}
