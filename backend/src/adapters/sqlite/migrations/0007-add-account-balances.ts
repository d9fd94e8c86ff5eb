import type Database from 'better-sqlite3';

/**
 * Each account keeps its running balance: a sale's credit check read the sum of every
 * posting of the card's account, a cost that grew with the account's history (~30 µs a Settle at
 * a hundred postings). `balance_minor` is the sum of the account's postings: set here from them,
 * kept by a trigger on every posting inserted — the one way the ledger changes, since postings are
 * append-only (updating or deleting one is refused from now on). `reconcileBalances` checks it.
 */
export function up(db: Database.Database): void {
  db.exec(`
    ALTER TABLE accounts ADD COLUMN balance_minor INTEGER NOT NULL DEFAULT 0;
    UPDATE accounts SET balance_minor = (SELECT COALESCE(SUM(p.amount_minor), 0) FROM postings p WHERE p.account_id = accounts.id);
    CREATE TRIGGER postings_keep_balance AFTER INSERT ON postings BEGIN
      UPDATE accounts SET balance_minor = balance_minor + NEW.amount_minor WHERE id = NEW.account_id;
    END;
    CREATE TRIGGER postings_append_only_update BEFORE UPDATE ON postings BEGIN
      SELECT RAISE(ABORT, 'postings are append-only');
    END;
    CREATE TRIGGER postings_append_only_delete BEFORE DELETE ON postings BEGIN
      SELECT RAISE(ABORT, 'postings are append-only');
    END;
  `);
}
