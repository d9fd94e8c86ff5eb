import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';

describe('migration 0002-create-terminal-certificates', () => {
  it('adds terminal_certificates to a database at version 1, keeping its terminals', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, 1);
    db.prepare("INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR')").run();
    db.prepare(
      "INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1')",
    ).run();
    db.prepare("INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active')").run();
    migrate(db, 2);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    db.prepare(
      "INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at) VALUES ('AA:BB', 'T-1', '01', 2, 1)",
    ).run();
    expect(db.prepare('SELECT terminal_id AS t, revoked_at AS r FROM terminal_certificates').get()).toEqual({
      t: 'T-1',
      r: null,
    });
    expect(() =>
      db
        .prepare(
          "INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at) VALUES ('CC', 'T-9', '02', 2, 1)",
        )
        .run(),
    ).toThrow(/FOREIGN KEY/);
    db.close();
  });
});
