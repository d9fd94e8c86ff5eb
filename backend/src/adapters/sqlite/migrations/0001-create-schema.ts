import type Database from 'better-sqlite3';

/** Accounts, cards, merchants, terminals, challenges, authorizations, settlements, postings. */
export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE accounts (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL CHECK (kind IN ('cardholder', 'merchant')),
      currency TEXT NOT NULL
    ) STRICT;

    CREATE TABLE cards (
      id TEXT PRIMARY KEY,
      pan_hash TEXT NOT NULL UNIQUE,          -- HMAC-SHA256 under the lookup key; never the PAN
      pan_enc BLOB NOT NULL,                  -- AES-256-GCM under the data key
      pan_masked TEXT NOT NULL,               -- first 6 / last 4
      pan_sequence INTEGER NOT NULL DEFAULT 0,
      expiry TEXT NOT NULL,                   -- YYMM
      cardholder_name TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('active', 'blocked', 'lost', 'stolen')),
      pin_salt BLOB NOT NULL,
      pin_verifier BLOB NOT NULL,
      pin_tries INTEGER NOT NULL DEFAULT 0,
      credit_limit_minor INTEGER NOT NULL CHECK (credit_limit_minor >= 0),
      currency TEXT NOT NULL,
      account_id TEXT NOT NULL REFERENCES accounts (id),
      last_atc INTEGER NOT NULL DEFAULT -1
    ) STRICT;

    CREATE TABLE merchants (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
      account_id TEXT NOT NULL REFERENCES accounts (id)
    ) STRICT;

    CREATE TABLE terminals (
      id TEXT PRIMARY KEY,
      merchant_id TEXT NOT NULL REFERENCES merchants (id),
      status TEXT NOT NULL CHECK (status IN ('active', 'revoked'))
    ) STRICT;

    CREATE TABLE challenges (
      un TEXT NOT NULL,
      terminal_id TEXT NOT NULL REFERENCES terminals (id),
      expires_at INTEGER NOT NULL,
      used_at INTEGER,
      PRIMARY KEY (un, terminal_id)
    ) STRICT;

    CREATE TABLE authorizations (
      ref TEXT PRIMARY KEY,
      card_id TEXT NOT NULL REFERENCES cards (id),
      terminal_id TEXT NOT NULL REFERENCES terminals (id),
      un TEXT NOT NULL,
      expires_at INTEGER NOT NULL,
      settled INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    CREATE TABLE settlements (
      id INTEGER PRIMARY KEY,
      terminal_id TEXT NOT NULL,
      terminal_txn_id TEXT NOT NULL,
      request_hash BLOB NOT NULL,
      approved INTEGER NOT NULL,
      decline_reason TEXT,
      amount_minor INTEGER NOT NULL,
      currency TEXT NOT NULL,
      card_id TEXT REFERENCES cards (id),
      merchant_id TEXT NOT NULL,
      response BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      UNIQUE (terminal_id, terminal_txn_id)
    ) STRICT;

    CREATE TABLE postings (
      id INTEGER PRIMARY KEY,
      settlement_id INTEGER NOT NULL REFERENCES settlements (id),
      account_id TEXT NOT NULL REFERENCES accounts (id),
      amount_minor INTEGER NOT NULL,
      currency TEXT NOT NULL,
      created_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX postings_account ON postings (account_id);
  `);
}
