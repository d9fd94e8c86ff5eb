import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate, userVersion } from '../../sqlite/migrate';
import { migrations } from '.';

describe('0003-create-resume-tokens', () => {
  it('adds resume tokens (32-byte hashes only)', () => {
    const db = new Database(':memory:');
    const version = migrations.findIndex((m) => m.name === '0003-create-resume-tokens') + 1;
    expect(version).toBe(3);
    migrate(db, migrations, userVersion, version - 1);
    db.prepare("INSERT INTO pending_operations VALUES ('close', 'batch', 'close-1', 1)").run();
    migrate(db, migrations, userVersion, version);
    expect(db.prepare('SELECT operation_id AS id FROM pending_operations').get()).toEqual({ id: 'close-1' });
    db.prepare('INSERT INTO resume_tokens VALUES (?, ?, ?, ?)').run('T-1', 'B-1', Buffer.alloc(32), 1);
    expect(() =>
      db.prepare('INSERT INTO resume_tokens VALUES (?, ?, ?, ?)').run('T-2', 'B-1', Buffer.alloc(16), 1),
    ).toThrow(/CHECK/);
    db.close();
  });
});
