/**
 * Opens a SQLite database for money: WAL, synchronous=FULL (a commit survives power loss),
 * foreign keys on, a busy timeout, and every migration applied in order.          [BS3]
 */
import Database from 'better-sqlite3';
import { migrations } from './migrations';

export type Db = Database.Database;

export function openDatabase(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** Applies the migrations above the database's user_version, each in its own transaction. */
export function migrate(db: Db, target = migrations.length): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of migrations.slice(current, target)) {
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
