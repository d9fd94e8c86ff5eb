import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';
import { migrations } from './index';

const version = migrations.findIndex((m) => m.name === '0011-add-offline-limits') + 1;

describe('migration 0011-add-offline-limits', () => {
  it('keeps the merchants and terminals of a database one version older, unset; takes a limit, refuses a negative one', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, version - 1);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR');
      INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
      INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
    `);
    migrate(db, version);
    expect(db.pragma('user_version', { simple: true })).toBe(version);
    for (const table of ['merchants', 'terminals']) {
      expect(
        db
          .prepare(
            `SELECT offline_floor_limit_minor AS f, offline_exposure_minor AS e, offline_card_daily_count AS c,
          offline_card_daily_amount_minor AS a FROM ${table}`,
          )
          .get(),
      ).toEqual({ f: null, e: null, c: null, a: null });
      db.prepare(`UPDATE ${table} SET offline_floor_limit_minor = 2500, offline_card_daily_count = 0`).run();
      expect(() => db.prepare(`UPDATE ${table} SET offline_exposure_minor = -1`).run()).toThrow(/CHECK/);
    }
    expect(db.prepare('SELECT offline_floor_limit_minor AS f FROM terminals').get()).toEqual({ f: 2500 });
    db.close();
  });
});
