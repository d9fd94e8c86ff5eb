import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0006-create-offline-sales', () => {
  it('adds the offline sales beside the attempts already there: one per offline id, one per card and ATC, known states only', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0006-create-offline-sales') + 1;
    expect(version).toBe(6);
    migrate(db, migrations, userVersion, version - 1);
    db.prepare(
      "INSERT INTO attempts (terminal_txn_id, basket_id, state, request, updated_at, amount_minor) VALUES ('T-1', 'B-0001', 'approved', x'', 1, 700)",
    ).run();
    migrate(db, migrations, userVersion, version);
    expect(db.prepare('SELECT amount_minor AS a FROM attempts').get()).toEqual({ a: 700 });
    const insert =
      db.prepare(`INSERT INTO offline_sales (offline_id, state, request, card_key, atc, amount_minor, currency,
      masked_pan, approved_at, updated_at) VALUES (?, ?, x'00', ?, ?, 350, 'EUR', '679999******0019', 1, 1)`);
    insert.run('OFF-1', 'approved', 'k1', 7);
    expect(() => insert.run('OFF-1', 'approved', 'k1', 8)).toThrow(/UNIQUE/);
    expect(() => insert.run('OFF-2', 'approved', 'k1', 7)).toThrow(/UNIQUE/);
    expect(() => insert.run('OFF-2', 'guessed', 'k1', 8)).toThrow(/CHECK/);
    insert.run('OFF-2', 'approved', 'k2', 7);
    db.prepare('INSERT INTO offline_clock (id, highest_ms) VALUES (1, 5)').run();
    expect(() => db.prepare('INSERT INTO offline_clock (id, highest_ms) VALUES (2, 5)').run()).toThrow(
      /CHECK/,
    );
    expect(db.prepare('SELECT seq, offline_id AS id FROM offline_sales ORDER BY seq').all()).toEqual([
      { seq: 1, id: 'OFF-1' },
      { seq: 2, id: 'OFF-2' },
    ]);
    db.close();
  });
});
