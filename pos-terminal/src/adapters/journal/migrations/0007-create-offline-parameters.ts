import type Database from 'better-sqlite3';

/**
 * The till's copy of the card company's offline parameters (one row): the signed message as
 * received (SignedOfflineParameters; checked again when the till starts) and its time of issue.
 * No card number is in it: the block list holds salted hashes.
 */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE offline_parameters (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    signed BLOB NOT NULL,
    issued_at INTEGER NOT NULL,
    kept_at INTEGER NOT NULL
  ) STRICT;`);
}
