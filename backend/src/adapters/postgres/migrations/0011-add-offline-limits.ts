/**
 * A merchant's and a terminal's offline limits, as the operator sets them (`merchant offline-limits`,
 * `terminal offline-limits`): the floor limit, the offline exposure, the per-card daily count and
 * amount. NULL is "not set": a terminal's setting overrides its merchant's, the merchant's the
 * card company's defaults (domain/offline-limits.ts). Amounts in the merchant's minor units.
 */
export const up = ['merchants', 'terminals']
  .map(
    (table) => `
  ALTER TABLE ${table}
    ADD COLUMN offline_floor_limit_minor bigint CHECK (offline_floor_limit_minor >= 0),
    ADD COLUMN offline_exposure_minor bigint CHECK (offline_exposure_minor >= 0),
    ADD COLUMN offline_card_daily_count integer CHECK (offline_card_daily_count >= 0),
    ADD COLUMN offline_card_daily_amount_minor bigint CHECK (offline_card_daily_amount_minor >= 0);`,
  )
  .join('\n');
