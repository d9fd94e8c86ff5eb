import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0007-create-offline-parameters', () => {
  it('adds the one-row copy of the offline parameters beside the offline sales already there', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0007-create-offline-parameters') + 1;
    expect(version).toBe(7);
    migrate(db, migrations, userVersion, version - 1);
    db.prepare(
      `INSERT INTO offline_sales (offline_id, state, request, card_key, atc, amount_minor, currency, masked_pan, approved_at,
        updated_at) VALUES ('OFF-1', 'approved', x'00', 'k1', 7, 350, 'EUR', '679999******0019', 1, 1)`,
    ).run();
    migrate(db, migrations, userVersion, version);
    expect(db.prepare('SELECT offline_id AS id FROM offline_sales').all()).toEqual([{ id: 'OFF-1' }]);
    const insert = db.prepare(
      'INSERT INTO offline_parameters (id, signed, issued_at, kept_at) VALUES (?, ?, ?, ?)',
    );
    insert.run(1, Buffer.from([1, 2]), 10, 11);
    expect(() => insert.run(2, Buffer.from([1]), 10, 11)).toThrow(/CHECK/);
    expect(() => insert.run(1, Buffer.from([1]), 10, 11)).toThrow(/UNIQUE|PRIMARY/);
    expect(() => insert.run(1, 'text', 10, 11)).toThrow(/cannot store TEXT|BLOB/);
    db.close();
  });
});
