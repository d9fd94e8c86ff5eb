import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0002-create-pending-operations', () => {
  it('adds the pending operations beside the attempts already there', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0002-create-pending-operations') + 1;
    expect(version).toBe(2);
    migrate(db, migrations, userVersion, version - 1);
    db.prepare("INSERT INTO attempts VALUES ('T-1', 'B-1', 'approved', x'', x'02', 1)").run();
    migrate(db, migrations, userVersion, version);
    expect(db.prepare('SELECT COUNT(*) AS n FROM attempts').get()).toEqual({ n: 1 });
    db.prepare("INSERT INTO pending_operations VALUES ('refund', 'S-1:500', 'T-1-r', 1)").run();
    expect(() =>
      db.prepare("INSERT INTO pending_operations VALUES ('refund', 'S-1:500', 'T-1-s', 2)").run(),
    ).toThrow(/UNIQUE|PRIMARY/);
    expect(() => db.prepare("INSERT INTO pending_operations VALUES ('charge', 'x', 'y', 2)").run()).toThrow(
      /CHECK/,
    );
    db.close();
  });
});
