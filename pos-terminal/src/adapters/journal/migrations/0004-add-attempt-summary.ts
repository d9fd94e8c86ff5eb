import type Database from 'better-sqlite3';

/** What stays of an attempt once its outcome is known (amount, masked card, request hash); the requests of known outcomes are wiped. */
export function up(db: Database.Database): void {
  db.exec(`ALTER TABLE attempts ADD COLUMN amount_minor INTEGER;
  ALTER TABLE attempts ADD COLUMN masked_pan TEXT;
  ALTER TABLE attempts ADD COLUMN request_hash BLOB CHECK (request_hash IS NULL OR length(request_hash) = 32);
  UPDATE attempts SET request = x'' WHERE state IN ('approved', 'declined', 'abandoned');`);
}
