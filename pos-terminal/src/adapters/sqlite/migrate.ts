/**
 * The one migration runner of the till's SQLite stores (the journal, the catalog, the receipt
 * store): numbered migrations, one per file, applied in order above the store's version, each
 * with its version bump in one transaction. Never edit a migration that has shipped.      [SIG]
 *
 * Where a store keeps its version is part of its file format: the journal and the catalog in
 * the file's user_version, the receipt store (it shares the till database with the catalog) in a
 * table of its own, so existing files migrate in place.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: Database.Database): void;
}

/** Where a store's schema version is kept. */
export interface VersionSlot {
  read(db: Database.Database): number;
  write(db: Database.Database, version: number): void;
}

/** The file's user_version (the store owns the file's header). */
export const userVersion: VersionSlot = {
  read: (db) => db.pragma('user_version', { simple: true }) as number,
  write: (db, v) => void db.pragma(`user_version = ${v}`),
};

/** A one-row table of its own (for a store sharing its file with another). */
export function versionTable(table: string): VersionSlot {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`bad version table name ${table}`);
  return {
    read: (db) => {
      db.exec(`CREATE TABLE IF NOT EXISTS ${table} (v INTEGER NOT NULL)`);
      return (db.prepare(`SELECT v FROM ${table}`).get() as { v: number } | undefined)?.v ?? 0;
    },
    write: (db, v) => {
      db.prepare(`DELETE FROM ${table}`).run();
      db.prepare(`INSERT INTO ${table} (v) VALUES (?)`).run(v);
    },
  };
}

/** Checks a store's list: versions 1, 2, … in order, names NNNN-verb-noun matching them. */
export function checkMigrations(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1 || !m.name.startsWith(`${String(i + 1).padStart(4, '0')}-`))
      throw new Error(`migration ${m.name} is out of order (expected version ${i + 1})`);
  });
}

/** Applies `list` above the version in `slot`, up to `target` (default: all); a database newer than the code is refused. */
export function migrate(
  db: Database.Database,
  list: readonly Migration[],
  slot: VersionSlot,
  target = list.length,
): void {
  checkMigrations(list);
  const at = slot.read(db);
  if (at > list.length)
    throw new Error(`the database is at schema version ${at}, newer than this till knows (${list.length})`);
  for (const m of list.slice(at, target))
    db.transaction(() => {
      m.up(db);
      slot.write(db, m.version);
    })();
}
