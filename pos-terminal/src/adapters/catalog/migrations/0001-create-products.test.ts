import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0001-create-products', () => {
  it('creates the products: one per sku, a barcode used once, no negative price', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0001-create-products') + 1;
    expect(version).toBe(1);
    migrate(db, migrations, userVersion, version - 1);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    migrate(db, migrations, userVersion, version);
    db.prepare("INSERT INTO products VALUES ('tea', '4001', 'Tea', 350)").run();
    expect(() => db.prepare("INSERT INTO products VALUES ('cake', '4001', 'Cake', 420)").run()).toThrow(
      /UNIQUE/,
    );
    expect(() => db.prepare("INSERT INTO products VALUES ('cake', NULL, 'Cake', -1)").run()).toThrow(/CHECK/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.close();
  });
});
