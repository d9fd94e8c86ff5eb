import type Database from 'better-sqlite3';

/** The id of a refund or the day's close sent without an answer yet (a retry reuses it). */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE pending_operations (
    kind TEXT NOT NULL CHECK (kind IN ('refund', 'close')),
    key TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
  ) STRICT;`);
}
