import type Database from 'better-sqlite3';

/**
 * The shopper-facing listener's tables (claims 1, 5, 6):
 * - shopper_challenges: single-use unpredictable numbers issued to phones (no terminal);
 * - temporary_codes: one-time passwords, stored only as a keyed hash (HMAC), bound to a card, an
 *   amount limit and an expiry; used_at/settlement_id once a sale consumed it;
 * - code_attempts: wrong codes keyed in at a merchant's tills, counted to limit guessing.
 */
export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE shopper_challenges (
      un TEXT PRIMARY KEY,
      expires_at INTEGER NOT NULL,
      used_at INTEGER
    ) STRICT;

    CREATE TABLE temporary_codes (
      id INTEGER PRIMARY KEY,
      code_hash TEXT NOT NULL,                -- HMAC-SHA256 under a key derived from the lookup key; never the code
      card_id TEXT NOT NULL REFERENCES cards (id),
      limit_minor INTEGER NOT NULL CHECK (limit_minor > 0),
      currency TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      used_at INTEGER,
      settlement_id INTEGER REFERENCES settlements (id),
      CHECK ((used_at IS NULL) = (settlement_id IS NULL))
    ) STRICT;
    CREATE INDEX temporary_codes_hash ON temporary_codes (code_hash);

    CREATE TABLE code_attempts (
      id INTEGER PRIMARY KEY,
      merchant_id TEXT NOT NULL,
      terminal_id TEXT NOT NULL,
      at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX code_attempts_merchant ON code_attempts (merchant_id, at);
  `);
}
