import { describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { migrate } from '../open-database';
import { migrations } from './index';

const version = migrations.findIndex((m) => m.name === '0009-index-challenges-by-terminal') + 1;

describe('migration 0009-index-challenges-by-terminal', () => {
  it('keeps the challenges of a database one version older and looks them up by terminal through the new index', () => {
    const db = new Database(':memory:');
    db.pragma('foreign_keys = ON');
    migrate(db, version - 1);
    db.exec(`
      INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR');
      INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
      INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active'), ('T-2', 'M-1', 'active');
      INSERT INTO challenges (un, terminal_id, expires_at) VALUES ('01', 'T-1', 10), ('02', 'T-1', 20), ('03', 'T-2', 30);
    `);
    migrate(db, version);
    expect(db.pragma('user_version', { simple: true })).toBe(version);
    const query = "SELECT un FROM challenges WHERE terminal_id = 'T-1' AND expires_at >= 15";
    expect(db.prepare(query).all()).toEqual([{ un: '02' }]);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${query}`).all() as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join('\n');
    expect(plan).toContain('challenges_by_terminal');
    db.close();
  });
});
