import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0001-create-attempts', () => {
  it('creates the attempts table: a pending attempt is kept, an unknown state refused', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0001-create-attempts') + 1;
    expect(version).toBe(1);
    migrate(db, migrations, userVersion, version - 1);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    migrate(db, migrations, userVersion, version);
    db.prepare("INSERT INTO attempts VALUES ('T-1', 'B-1', 'pending', x'01', NULL, 1)").run();
    expect(db.prepare('SELECT state FROM attempts').get()).toEqual({ state: 'pending' });
    expect(() =>
      db.prepare("INSERT INTO attempts VALUES ('T-2', 'B-1', 'charged', x'01', NULL, 1)").run(),
    ).toThrow(/CHECK/);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    db.close();
  });
});
