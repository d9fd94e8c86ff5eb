import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../sqlite/migrate';
import { RECEIPT_STORE_VERSION } from '../receipt-store.sqlite';
import { migrations } from '.';

describe('0001-create-receipts', () => {
  it('creates the receipts, with its version in a table of its own (the file header is the catalog one)', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0001-create-receipts') + 1;
    expect(version).toBe(1);
    migrate(db, migrations, RECEIPT_STORE_VERSION, version - 1);
    db.pragma('user_version = 7'); // the catalog's
    migrate(db, migrations, RECEIPT_STORE_VERSION, version);
    db.prepare("INSERT INTO receipts VALUES ('T-1', 1, NULL, 'tea', x'01')").run();
    expect(db.prepare('SELECT v FROM receipt_store_version').get()).toEqual({ v: 1 });
    expect(db.pragma('user_version', { simple: true })).toBe(7);
    db.close();
  });
});
