import type Database from 'better-sqlite3';

/** The hashes of the resume tokens phones fetch their payment's outcome with. */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE resume_tokens (
    terminal_txn_id TEXT PRIMARY KEY,
    basket_id TEXT NOT NULL,
    token_hash BLOB NOT NULL CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX resume_tokens_created ON resume_tokens (created_at);`);
}
