import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';

describe('migration 0003-create-batches-and-adjustments', () => {
  it('puts the approved settlements of a database at version 2 into one open batch per terminal, with their postings', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, 2);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
      INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
      INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
      INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor, currency, merchant_id, response, created_at)
        VALUES (1, 'T-1', 'a', x'00', 1, NULL, 700, 'EUR', 'M-1', x'', 10), (2, 'T-1', 'b', x'00', 0, 'insufficient_funds', 900, 'EUR', 'M-1', x'', 20);
      INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (1, 'acct-C-1', -700, 'EUR', 10), (1, 'acct-M-1', 700, 'EUR', 10);
    `);
    migrate(db, 3);
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    const batch = db.prepare('SELECT id, terminal_id AS t, status, opened_at AS o FROM batches').all();
    expect(batch).toEqual([{ id: 1, t: 'T-1', status: 'open', o: 10 }]);
    expect(db.prepare('SELECT id, batch_id AS b FROM settlements ORDER BY id').all()).toEqual([
      { id: 1, b: 1 },
      { id: 2, b: null },
    ]);
    expect(
      db.prepare('SELECT COUNT(*) AS n FROM postings WHERE batch_id = 1 AND adjustment_id IS NULL').get(),
    ).toEqual({ n: 2 });
    // At most one open batch per terminal; an adjustment is unique per (terminal, kind, id).
    expect(() =>
      db.prepare("INSERT INTO batches (terminal_id, status, opened_at) VALUES ('T-1', 'open', 30)").run(),
    ).toThrow(/UNIQUE/);
    const adj = db.prepare(
      "INSERT INTO adjustments (kind, terminal_id, op_txn_id, original_txn_id, settlement_id, batch_id, request_hash, approved, amount_minor, currency, response, created_at) VALUES ('refund', 'T-1', 'r1', 'a', 1, 1, x'00', 1, 100, 'EUR', x'', 40)",
    );
    adj.run();
    expect(() => adj.run()).toThrow(/UNIQUE/);
    db.close();
  });
});
