import type Database from 'better-sqlite3';

/**
 * Merchant IC cards (claims 2, 7, 8): issued by the card company like payment cards (own ICC key
 * under the CA), registered to a merchant. Each has its own terminal row (`terminal_id`), so its
 * sales settle, batch and list like a till's, exactly once per (terminal, idempotency key).
 */
export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE merchant_cards (
      id TEXT PRIMARY KEY,
      pan_hash TEXT NOT NULL UNIQUE,          -- HMAC-SHA256 under the lookup key; never the PAN
      pan_masked TEXT NOT NULL,
      pan_sequence INTEGER NOT NULL,
      expiry TEXT NOT NULL,                   -- YYMM
      merchant_id TEXT NOT NULL REFERENCES merchants (id),
      terminal_id TEXT NOT NULL UNIQUE REFERENCES terminals (id),
      status TEXT NOT NULL CHECK (status IN ('active', 'blocked')),
      issued_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX merchant_cards_merchant ON merchant_cards (merchant_id);
  `);
}
