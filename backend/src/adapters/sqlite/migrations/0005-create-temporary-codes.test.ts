import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';

describe('migration 0005-create-temporary-codes', () => {
  it('adds shopper challenges, temporary codes and code attempts to a database at version 4, keeping its cards', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, 4);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-C-1', 'cardholder', 'EUR');
      INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier, credit_limit_minor, currency, account_id)
        VALUES ('C-1', 'h', x'00', '679999******0019', '2812', 'A', 'active', x'00', x'00', 100, 'EUR', 'acct-C-1');
    `);
    migrate(db, 5);
    expect(db.pragma('user_version', { simple: true })).toBe(5);
    db.prepare(
      "INSERT INTO temporary_codes (code_hash, card_id, limit_minor, currency, created_at, expires_at) VALUES ('ab', 'C-1', 500, 'EUR', 1, 2)",
    ).run();
    expect(db.prepare('SELECT card_id AS c, used_at AS u FROM temporary_codes').get()).toEqual({
      c: 'C-1',
      u: null,
    });
    // A code is used only together with the settlement that used it; it belongs to a known card.
    expect(() => db.prepare('UPDATE temporary_codes SET used_at = 5').run()).toThrow(/CHECK/);
    expect(() =>
      db
        .prepare(
          "INSERT INTO temporary_codes (code_hash, card_id, limit_minor, currency, created_at, expires_at) VALUES ('cd', 'C-9', 500, 'EUR', 1, 2)",
        )
        .run(),
    ).toThrow(/FOREIGN KEY/);
    db.prepare("INSERT INTO shopper_challenges (un, expires_at) VALUES ('01020304', 9)").run();
    expect(() =>
      db.prepare("INSERT INTO shopper_challenges (un, expires_at) VALUES ('01020304', 9)").run(),
    ).toThrow(/UNIQUE/);
    db.close();
  });
});
