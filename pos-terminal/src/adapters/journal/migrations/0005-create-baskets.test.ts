import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0005-create-baskets', () => {
  it('adds the kept baskets and till state beside the attempts already there', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0005-create-baskets') + 1;
    expect(version).toBe(5);
    migrate(db, migrations, userVersion, version - 1);
    db.prepare(
      "INSERT INTO attempts (terminal_txn_id, basket_id, state, request, updated_at, amount_minor) VALUES ('T-1', 'B-0001', 'approved', x'', 1, 700)",
    ).run();
    migrate(db, migrations, userVersion, version);
    expect(db.prepare('SELECT amount_minor AS a FROM attempts').get()).toEqual({ a: 700 });
    db.prepare("INSERT INTO baskets VALUES ('B-0002', '[]')").run();
    db.prepare("INSERT INTO till_state VALUES ('last_basket_number', '2')").run();
    expect(() => db.prepare("INSERT INTO till_state VALUES ('other', '1')").run()).toThrow(/CHECK/);
    db.close();
  });
});
