import type Database from 'better-sqlite3';

/**
 * The sales the till approved offline, in the order it approved them (`seq`), each written before
 * the shopper is told: the request it forwards (sealed under the journal key while the card
 * company has not judged it; wiped after), the card's key (a keyed hash, never the number) and
 * ATC (one approval per card and ATC), the amount, when, and what the card company answered.
 * `offline_clock`: the highest clock reading the offline policy has seen (it never goes back).
 */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE offline_sales (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    offline_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('approved', 'forwarding', 'settled', 'merchant_loss', 'declined')),
    request BLOB NOT NULL,
    card_key TEXT NOT NULL,
    atc INTEGER NOT NULL CHECK (atc BETWEEN 0 AND 65535),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    masked_pan TEXT NOT NULL,
    approved_at INTEGER NOT NULL,
    response BLOB,
    loss_reason TEXT,
    updated_at INTEGER NOT NULL,
    UNIQUE (card_key, atc)
  ) STRICT;
  CREATE INDEX offline_sales_open ON offline_sales (state, seq);
  CREATE TABLE offline_clock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    highest_ms INTEGER NOT NULL
  ) STRICT;`);
}
