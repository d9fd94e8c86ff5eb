import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';

describe('migration 0004-add-authorization-cvm', () => {
  it('marks the authorizations of a database at version 3 as online PIN, and takes only known methods after', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, 3);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
      INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
      INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
      INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier, credit_limit_minor, currency, account_id)
        VALUES ('C-1', 'h', x'00', '679999*1', '2812', 'A B', 'active', x'00', x'00', 100, 'EUR', 'acct-C-1');
      INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at) VALUES ('AUTH-old', 'C-1', 'T-1', '01020304', 10);
    `);
    migrate(db, 4);
    expect(db.pragma('user_version', { simple: true })).toBe(4);
    expect(db.prepare("SELECT cvm FROM authorizations WHERE ref = 'AUTH-old'").get()).toEqual({
      cvm: 'online_pin',
    });
    db.prepare(
      "INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at, cvm) VALUES ('AUTH-bio', 'C-1', 'T-1', '05060708', 10, 'biometric')",
    ).run();
    expect(db.prepare("SELECT cvm FROM authorizations WHERE ref = 'AUTH-bio'").get()).toEqual({
      cvm: 'biometric',
    });
    expect(() =>
      db
        .prepare(
          "INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at, cvm) VALUES ('AUTH-x', 'C-1', 'T-1', '0A0B0C0D', 10, 'none')",
        )
        .run(),
    ).toThrow(/CHECK/);
    db.close();
  });
});
