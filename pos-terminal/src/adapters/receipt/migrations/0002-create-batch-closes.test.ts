import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../sqlite/migrate';
import { RECEIPT_STORE_VERSION } from '../receipt-store.sqlite';
import { migrations } from '.';

describe('0002-create-batch-closes', () => {
  it('adds the day closes beside the receipts already there', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0002-create-batch-closes') + 1;
    expect(version).toBe(2);
    migrate(db, migrations, RECEIPT_STORE_VERSION, version - 1);
    db.prepare("INSERT INTO receipts VALUES ('T-1', 1, 's-1', 'tea', x'01')").run();
    migrate(db, migrations, RECEIPT_STORE_VERSION, version);
    expect(db.prepare('SELECT session_id AS s FROM receipts').get()).toEqual({ s: 's-1' });
    db.prepare('INSERT INTO batch_closes VALUES (1, 5)').run();
    expect(db.prepare('SELECT v FROM receipt_store_version').get()).toEqual({ v: 2 });
    db.close();
  });
});
