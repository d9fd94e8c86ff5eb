import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';

describe('migration 0007-add-account-balances', () => {
  it('sets each account of a database at version 6 to the sum of its postings, keeps it on every posting, and refuses changing a posting', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, 6);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR'), ('acct-C-2', 'cardholder', 'EUR');
      INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
      INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
      INSERT INTO batches (id, terminal_id, status, opened_at) VALUES (1, 'T-1', 'open', 1);
      INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor, currency, merchant_id, card_id, response, created_at, batch_id)
        VALUES (1, 'T-1', 'a', x'00', 1, '', 250, 'EUR', 'M-1', NULL, x'00', 1, 1), (2, 'T-1', 'b', x'00', 1, '', 100, 'EUR', 'M-1', NULL, x'00', 2, 1);
      INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id)
        VALUES (1, 'acct-C-1', -250, 'EUR', 1, 1), (1, 'acct-M-1', 250, 'EUR', 1, 1), (2, 'acct-C-1', -100, 'EUR', 2, 1), (2, 'acct-M-1', 100, 'EUR', 2, 1);
    `);
    migrate(db, 7);
    expect(db.pragma('user_version', { simple: true })).toBe(7);
    const balances = () => db.prepare('SELECT id, balance_minor AS b FROM accounts ORDER BY id').all();
    expect(balances()).toEqual([
      { id: 'acct-C-1', b: -350 },
      { id: 'acct-C-2', b: 0 },
      { id: 'acct-M-1', b: 350 },
    ]);
    db.exec(
      `INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id) VALUES (2, 'acct-C-2', -40, 'EUR', 3, 1), (2, 'acct-M-1', 40, 'EUR', 3, 1)`,
    );
    expect(balances()).toEqual([
      { id: 'acct-C-1', b: -350 },
      { id: 'acct-C-2', b: -40 },
      { id: 'acct-M-1', b: 390 },
    ]);
    expect(() => db.exec(`UPDATE postings SET amount_minor = 0 WHERE account_id = 'acct-C-1'`)).toThrow(
      /append-only/,
    );
    expect(() => db.exec(`DELETE FROM postings WHERE account_id = 'acct-C-1'`)).toThrow(/append-only/);
    expect(balances()).toEqual([
      { id: 'acct-C-1', b: -350 },
      { id: 'acct-C-2', b: -40 },
      { id: 'acct-M-1', b: 390 },
    ]);
    db.close();
  });
});
