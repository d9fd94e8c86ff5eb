import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';
import { migrations } from './index';

const version = migrations.findIndex((m) => m.name === '0008-guard-ledger-currencies') + 1;

function atPrevious(): Database.Database {
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  migrate(db, version - 1);
  db.exec(`
    INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR'), ('acct-C-J', 'cardholder', 'JPY');
    INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
    INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
    INSERT INTO batches (id, terminal_id, status, opened_at) VALUES (1, 'T-1', 'open', 1);
    INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor, currency, merchant_id, card_id, response, created_at, batch_id)
      VALUES (1, 'T-1', 'a', x'00', 1, '', 250, 'EUR', 'M-1', NULL, x'00', 1, 1), (2, 'T-1', 'b', x'00', 1, '', 100, 'EUR', 'M-1', NULL, x'00', 2, 1);
    INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id) VALUES (1, 'acct-C-1', -250, 'EUR', 1, 1), (1, 'acct-M-1', 250, 'EUR', 1, 1);
  `);
  return db;
}

const post = (db: Database.Database, rows: string) =>
  db.exec(
    `INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id) VALUES ${rows}`,
  );

describe('migration 0008-guard-ledger-currencies', () => {
  it('keeps the postings made before it, and takes a balanced entry in one currency', () => {
    const db = atPrevious();
    migrate(db, version);
    expect(db.pragma('user_version', { simple: true })).toBe(version);
    db.transaction(() => post(db, `(2, 'acct-C-1', -100, 'EUR', 2, 1), (2, 'acct-M-1', 100, 'EUR', 2, 1)`))();
    expect(db.prepare('SELECT COUNT(*) AS n, SUM(amount_minor) AS s FROM postings').get()).toEqual({
      n: 4,
      s: 0,
    });
    expect(db.prepare('SELECT COUNT(*) AS n FROM ledger_open_entries').get()).toEqual({ n: 0 });
    db.close();
  });

  it('refuses at COMMIT a raw INSERT that leaves an entry unbalanced, and nothing of that transaction stays', () => {
    const db = atPrevious();
    migrate(db, version);
    const before = db.prepare('SELECT balance_minor AS b FROM accounts WHERE id = ?').get('acct-M-1');
    // Autocommit: the single statement is its own transaction.
    expect(() => post(db, `(2, 'acct-M-1', 100, 'EUR', 2, 1)`)).toThrow(/FOREIGN KEY constraint failed/);
    // Explicit transaction: both rows are refused together.
    expect(() =>
      db.transaction(() =>
        post(db, `(2, 'acct-C-1', -100, 'EUR', 2, 1), (2, 'acct-M-1', 99, 'EUR', 2, 1)`),
      )(),
    ).toThrow(/FOREIGN KEY constraint failed/);
    expect(db.inTransaction).toBe(false);
    expect(db.prepare('SELECT COUNT(*) AS n FROM postings').get()).toEqual({ n: 2 });
    expect(db.prepare('SELECT balance_minor AS b FROM accounts WHERE id = ?').get('acct-M-1')).toEqual(
      before,
    );
    expect(() => db.exec(`INSERT INTO ledger_unbalanced (id) VALUES (1)`)).toThrow(/stays empty/);
    db.close();
  });

  it('refuses a posting in another currency than its account, even when the amounts sum to zero', () => {
    const db = atPrevious();
    migrate(db, version);
    // The old mixing: a JPY cardholder debited ¥100,000, a EUR merchant credited "100000" EUR cents.
    expect(() =>
      db.transaction(() =>
        post(db, `(2, 'acct-C-J', -100000, 'JPY', 2, 1), (2, 'acct-M-1', 100000, 'JPY', 2, 1)`),
      )(),
    ).toThrow(/currency differs/);
    // Balanced by number across two currencies: each currency must balance on its own.
    expect(() =>
      db.transaction(() =>
        post(db, `(2, 'acct-C-J', -100, 'JPY', 2, 1), (2, 'acct-M-1', 100, 'EUR', 2, 1)`),
      )(),
    ).toThrow(/FOREIGN KEY constraint failed/);
    expect(db.prepare('SELECT COUNT(*) AS n FROM postings').get()).toEqual({ n: 2 });
    db.close();
  });
});
