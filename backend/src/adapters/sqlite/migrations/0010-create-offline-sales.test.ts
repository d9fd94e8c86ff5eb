import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';
import { migrations } from './index';

const version = migrations.findIndex((m) => m.name === '0010-create-offline-sales') + 1;

describe('migration 0010-create-offline-sales', () => {
  it('keeps a database one version older, records offline sales once per terminal and id, and one settled row per card and ATC', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, version - 1);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
      INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
      INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
      INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                         credit_limit_minor, currency, account_id)
        VALUES ('C-1', 'h1', x'00', '679999******0019', '2912', 'A', 'active', x'00', x'00', 1000, 'EUR', 'acct-C-1');
    `);
    migrate(db, version);
    expect(db.pragma('user_version', { simple: true })).toBe(version);
    const settlement =
      db.prepare(`INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, amount_minor,
      currency, card_id, merchant_id, response, created_at) VALUES ('T-1', ?, x'00', 1, 500, 'EUR', 'C-1', 'M-1', x'00', 1)`);
    const sale =
      db.prepare(`INSERT INTO offline_sales (settlement_id, terminal_id, offline_id, card_id, atc, outcome, loss_reason,
      amount_minor, currency, approved_at, forwarded_at) VALUES (?, 'T-1', ?, 'C-1', ?, ?, ?, 500, 'EUR', 1, 2)`);
    const s1 = Number(settlement.run('OFF-1').lastInsertRowid);
    const s2 = Number(settlement.run('OFF-2').lastInsertRowid);
    const s3 = Number(settlement.run('OFF-3').lastInsertRowid);
    sale.run(s1, 'OFF-1', 7, 'settled', null);
    expect(() => sale.run(s2, 'OFF-1', 8, 'settled', null)).toThrow(/UNIQUE/);
    expect(() => sale.run(s2, 'OFF-2', 7, 'settled', null)).toThrow(/UNIQUE/);
    expect(() => sale.run(s2, 'OFF-2', 8, 'settled', 'card_blocked')).toThrow(/CHECK/);
    expect(() => sale.run(s2, 'OFF-2', 8, 'merchant_loss', null)).toThrow(/CHECK/);
    sale.run(s2, 'OFF-2', 7, 'merchant_loss', 'atc_replayed');
    sale.run(s3, 'OFF-3', 9, 'settled', null);
    expect(db.prepare('SELECT COUNT(*) AS n FROM offline_sales').get()).toEqual({ n: 3 });
    db.close();
  });

  it('records every change of a card status with its time, and nothing for an update that keeps it', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, version);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-C-1', 'cardholder', 'EUR');
      INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                         credit_limit_minor, currency, account_id)
        VALUES ('C-1', 'h1', x'00', '679999******0019', '2912', 'A', 'active', x'00', x'00', 1000, 'EUR', 'acct-C-1');
    `);
    const before = Date.now();
    db.exec("UPDATE cards SET status = 'stolen' WHERE id = 'C-1'");
    db.exec("UPDATE cards SET status = 'stolen', pin_tries = 1 WHERE id = 'C-1'");
    db.exec("UPDATE cards SET status = 'active' WHERE id = 'C-1'");
    const rows = db
      .prepare(
        'SELECT old_status AS o, new_status AS n, changed_at AS at FROM card_status_changes ORDER BY id',
      )
      .all() as Array<{ o: string; n: string; at: number }>;
    expect(rows.map((r) => [r.o, r.n])).toEqual([
      ['active', 'stolen'],
      ['stolen', 'active'],
    ]);
    for (const r of rows) expect(r.at).toBeGreaterThanOrEqual(before - 1);
    for (const r of rows) expect(r.at).toBeLessThanOrEqual(Date.now() + 1);
    db.close();
  });
});
