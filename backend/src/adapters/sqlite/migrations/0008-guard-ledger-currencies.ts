import type Database from 'better-sqlite3';

/**
 * The database itself keeps money in one currency per account and every ledger entry balanced in
 * each currency, whatever code writes to it:
 * - a posting's currency must be its account's (a EUR merchant's account takes only EUR);
 * - the postings of one entry (a sale: its settlement; a refund or void: its adjustment) sum to
 *   zero in each currency when the transaction commits. SQLite has no commit-time CHECK, but it
 *   checks deferred foreign keys at COMMIT: `ledger_open_entries` holds one row per entry and
 *   currency whose postings do not (yet) sum to zero, and such a row points, through a deferred
 *   foreign key, at `ledger_unbalanced`, a table that stays empty. A transaction that leaves an
 *   entry unbalanced therefore fails at COMMIT ("FOREIGN KEY constraint failed") and nothing of it
 *   is stored; while an entry is balanced its row is gone.
 * Needs `PRAGMA foreign_keys = ON` (openDatabase sets it).
 */
export function up(db: Database.Database): void {
  db.exec(`
    CREATE TABLE ledger_unbalanced (id INTEGER PRIMARY KEY) STRICT;
    CREATE TRIGGER ledger_unbalanced_stays_empty BEFORE INSERT ON ledger_unbalanced BEGIN
      SELECT RAISE(ABORT, 'ledger_unbalanced stays empty');
    END;

    CREATE TABLE ledger_open_entries (
      settlement_id INTEGER NOT NULL,
      adjustment_key INTEGER NOT NULL,        -- the adjustment's id; 0 for the sale itself
      currency TEXT NOT NULL,
      sum_minor INTEGER NOT NULL,
      unbalanced INTEGER NOT NULL DEFAULT 1 REFERENCES ledger_unbalanced (id) DEFERRABLE INITIALLY DEFERRED,
      PRIMARY KEY (settlement_id, adjustment_key, currency)
    ) STRICT;

    CREATE TRIGGER postings_currency_of_account BEFORE INSERT ON postings
      WHEN NEW.currency IS NOT (SELECT currency FROM accounts WHERE id = NEW.account_id)
    BEGIN
      SELECT RAISE(ABORT, 'posting currency differs from its account''s');
    END;

    CREATE TRIGGER postings_entry_balance AFTER INSERT ON postings BEGIN
      INSERT INTO ledger_open_entries (settlement_id, adjustment_key, currency, sum_minor)
        VALUES (NEW.settlement_id, COALESCE(NEW.adjustment_id, 0), NEW.currency, NEW.amount_minor)
        ON CONFLICT (settlement_id, adjustment_key, currency) DO UPDATE SET sum_minor = sum_minor + excluded.sum_minor;
      DELETE FROM ledger_open_entries
        WHERE settlement_id = NEW.settlement_id AND adjustment_key = COALESCE(NEW.adjustment_id, 0) AND currency = NEW.currency AND sum_minor = 0;
    END;
  `);
}
