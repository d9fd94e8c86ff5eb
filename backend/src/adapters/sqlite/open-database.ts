/**
 * Opens a SQLite database for money: WAL, synchronous=FULL (a commit survives power loss),
 * foreign keys on, a busy timeout, and every migration applied in order.          [BS3]
 */
import Database from 'better-sqlite3';
import { migrations } from './migrations';

export type Db = Database.Database;

/** The file with the pragmas above and its schema as it is (`migrate` brings it up to date). */
export function openConnection(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

export function openDatabase(path: string): Db {
  const db = openConnection(path);
  try {
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

export interface SqliteMigrationResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

export class SqliteMigrationError extends Error {
  override readonly name = 'SqliteMigrationError';
  constructor(
    readonly code: 'unknown_version' | 'bad_target',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Applies the migrations above the database's user_version up to `target` (default: all), each in
 * its own transaction; a target at or below the current version applies nothing (never goes
 * back). A database at a version this release does not know (a newer release migrated it) is
 * refused, untouched.
 */
export function migrate(db: Db, target = migrations.length): SqliteMigrationResult {
  if (!Number.isInteger(target) || target < 0 || target > migrations.length)
    throw new SqliteMigrationError('bad_target', `migration target ${target}: 0…${migrations.length}`);
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length)
    throw new SqliteMigrationError(
      'unknown_version',
      `the database is at schema version ${current}, which this release (newest ${migrations.length}) does not know`,
    );
  const applied: string[] = [];
  for (const m of migrations.slice(current, target)) {
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.name);
  }
  return { from: current, to: Math.max(current, target), applied };
}
