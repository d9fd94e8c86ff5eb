import type { Sql } from 'postgres';
import { postgresMigrations, type PostgresMigration } from './migrations/index';

/** Any 64-bit number fixed for this schema: the advisory lock every node takes to migrate. */
export const MIGRATION_LOCK_KEY = 0x626c7565_74696c6cn; // "bluetill"

export type MigrationErrorCode = 'unknown_version' | 'name_mismatch' | 'bad_target';

export class MigrationError extends Error {
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

export interface MigrationResult {
  readonly from: number;
  readonly to: number;
  readonly applied: readonly string[];
}

/**
 * Brings a PostgreSQL database to `target` (default: the newest migration): in ONE transaction,
 * under a transaction-scoped advisory lock, so two nodes starting at once run the migrations once
 * (the second waits, then finds nothing to do) and a failing migration leaves the database as it
 * was. Each applied migration is recorded in `schema_migrations` (version, name, time). A database
 * whose recorded names differ from ours (renumbered migrations) or that has versions we do not
 * know (a newer release migrated it) is refused, not touched. An up-to-date database needs no
 * privilege beyond SELECT on schema_migrations; applying a migration needs the tables' owner.
 */
export async function migratePostgres(
  sql: Sql,
  target?: number,
  migrations: readonly PostgresMigration[] = postgresMigrations,
): Promise<MigrationResult> {
  const newest = migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
  const to = target ?? newest;
  if (!Number.isInteger(to) || to < 0 || to > newest)
    throw new MigrationError('bad_target', `migration target ${to}: 0…${newest}`);
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    // Created only when missing: a role without CREATE on the schema (the servers' and the admin
    // tool's, DML only) finds an up-to-date database and changes nothing.
    const [known] = await tx<{ t: string | null }[]>`SELECT to_regclass('schema_migrations')::text AS t`;
    if (known?.t == null)
      await tx`CREATE TABLE schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const done = await tx<
      { version: number; name: string }[]
    >`SELECT version, name FROM schema_migrations ORDER BY version`;
    for (const row of done) {
      const ours = migrations.find((m) => m.version === row.version);
      if (!ours)
        throw new MigrationError(
          'unknown_version',
          `the database has migration ${row.version} (${row.name}), which this release does not know`,
        );
      if (ours.name !== row.name)
        throw new MigrationError(
          'name_mismatch',
          `the database's migration ${row.version} is ${row.name}, ours is ${ours.name}`,
        );
    }
    const from = done.length === 0 ? 0 : done[done.length - 1]!.version;
    const applied: string[] = [];
    for (const m of migrations) {
      if (m.version <= from || m.version > to) continue;
      await tx.unsafe(m.up);
      await tx`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
      applied.push(m.name);
    }
    return { from, to: Math.max(from, to), applied };
  });
}
