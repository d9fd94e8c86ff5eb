import type Database from 'better-sqlite3';

/** The waiting baskets, the sale being rung up and the basket numbering, kept across restarts. */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE baskets (
    id TEXT PRIMARY KEY,
    items TEXT NOT NULL
  ) STRICT;
  CREATE TABLE till_state (
    key TEXT PRIMARY KEY CHECK (key IN ('last_basket_number', 'draft')),
    value TEXT NOT NULL
  ) STRICT;`);
}
