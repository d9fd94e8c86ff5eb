import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';

describe('migration 0006-create-merchant-cards', () => {
  it('adds merchant cards to a database at version 5: one per PAN and per terminal, of a known merchant', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, 5);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR');
      INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
      INSERT INTO terminals (id, merchant_id, status) VALUES ('MC-1', 'M-1', 'active'), ('MC-2', 'M-1', 'active');
    `);
    migrate(db, 6);
    expect(db.pragma('user_version', { simple: true })).toBe(6);
    const insert =
      db.prepare(`INSERT INTO merchant_cards (id, pan_hash, pan_masked, pan_sequence, expiry, merchant_id, terminal_id, status, issued_at)
                               VALUES (?, ?, '679999*********0012', 1, '3012', ?, ?, 'active', 1)`);
    insert.run('mc-1', 'h1', 'M-1', 'MC-1');
    expect(db.prepare('SELECT merchant_id AS m, terminal_id AS t FROM merchant_cards').get()).toEqual({
      m: 'M-1',
      t: 'MC-1',
    });
    expect(() => insert.run('mc-2', 'h1', 'M-1', 'MC-2')).toThrow(/UNIQUE/);
    expect(() => insert.run('mc-3', 'h3', 'M-1', 'MC-1')).toThrow(/UNIQUE/);
    expect(() => insert.run('mc-4', 'h4', 'M-9', 'MC-2')).toThrow(/FOREIGN KEY/);
    db.close();
  });
});
