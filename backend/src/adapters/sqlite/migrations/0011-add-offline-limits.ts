import type Database from 'better-sqlite3';

/**
 * A merchant's and a terminal's offline limits, as the operator sets them (`merchant offline-limits`,
 * `terminal offline-limits`): the floor limit, the offline exposure, the per-card daily count and
 * amount. NULL is "not set": a terminal's setting overrides its merchant's, the merchant's the
 * card company's defaults (domain/offline-limits.ts). Amounts in the merchant's minor units.
 */
export function up(db: Database.Database): void {
  for (const table of ['merchants', 'terminals'])
    db.exec(`
      ALTER TABLE ${table} ADD COLUMN offline_floor_limit_minor INTEGER CHECK (offline_floor_limit_minor >= 0);
      ALTER TABLE ${table} ADD COLUMN offline_exposure_minor INTEGER CHECK (offline_exposure_minor >= 0);
      ALTER TABLE ${table} ADD COLUMN offline_card_daily_count INTEGER CHECK (offline_card_daily_count >= 0);
      ALTER TABLE ${table} ADD COLUMN offline_card_daily_amount_minor INTEGER CHECK (offline_card_daily_amount_minor >= 0);
    `);
}
