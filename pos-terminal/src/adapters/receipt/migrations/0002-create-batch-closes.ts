import type Database from 'better-sqlite3';

/** The days this till closed (a close with nothing sold since the last is refused). */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE batch_closes (
    batch_id INTEGER PRIMARY KEY,
    closed_at INTEGER NOT NULL
  ) STRICT;`);
}
