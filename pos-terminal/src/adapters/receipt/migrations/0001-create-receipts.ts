import type Database from 'better-sqlite3';

/** The receipts the till issued (masked card numbers only), searchable by day and words. */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE receipts (
    terminal_txn_id TEXT PRIMARY KEY,
    issued_at INTEGER NOT NULL,
    session_id TEXT,
    search_text TEXT NOT NULL,
    receipt BLOB NOT NULL
  ) STRICT;
  CREATE INDEX receipts_issued ON receipts (issued_at);`);
}
