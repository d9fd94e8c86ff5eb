import type Database from 'better-sqlite3';

/** The settlement attempts: written before a request leaves, concluded when its answer arrives. */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE attempts (
    terminal_txn_id TEXT PRIMARY KEY,
    basket_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'declined', 'unresolved', 'abandoned')),
    request BLOB NOT NULL,
    response BLOB,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX attempts_state ON attempts (state);
  CREATE INDEX attempts_basket ON attempts (basket_id);`);
}
