import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkMigrations, migrate, userVersion, versionTable, type Migration } from './migrate';

const table = (name: string): Migration => ({
  version: 0,
  name,
  up: (db) => db.exec(`CREATE TABLE ${name.slice(5).replace(/-/g, '_')} (x INTEGER) STRICT`),
});
const list = (...names: string[]): Migration[] => names.map((n, i) => ({ ...table(n), version: i + 1 }));

describe('migrate', () => {
  it('applies what is above the version, once, each with its version in one transaction; a failing one leaves the version before it', () => {
    const db = new Database(':memory:');
    const ms = list('0001-create-a', '0002-create-b');
    migrate(db, ms, userVersion, 1);
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    migrate(db, ms, userVersion);
    migrate(db, ms, userVersion); // nothing left to apply
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    const broken = [
      ...ms,
      {
        version: 3,
        name: '0003-break-c',
        up: (d: Database.Database) => d.exec('CREATE TABLE c (x INTEGER); SELECT * FROM nowhere'),
      },
    ];
    expect(() => migrate(db, broken, userVersion)).toThrow(/nowhere/);
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'c'").get()).toEqual({ n: 0 });
  });

  it('refuses a list out of order and a database newer than the code; a version table leaves the file header alone', () => {
    expect(() => checkMigrations(list('0001-create-a', '0003-create-b'))).toThrow(/out of order/);
    expect(() => checkMigrations([{ ...table('0002-create-a'), version: 1 }])).toThrow(/out of order/);
    const db = new Database(':memory:');
    db.pragma('user_version = 3');
    expect(() => migrate(db, list('0001-create-a'), userVersion)).toThrow(/newer/);
    migrate(db, list('0001-create-a'), versionTable('own_version'));
    expect(db.pragma('user_version', { simple: true })).toBe(3);
    expect(db.prepare('SELECT v FROM own_version').get()).toEqual({ v: 1 });
  });
});
