/**
 * Seeds a migrated PostgreSQL database with a registry for tests, in plain SQL: the accounts,
 * merchants, terminals (and their certificates), cards and merchant cards of a SQLite database
 * that `seedDemo` wrote (so PAN hashes, PIN verifiers and certificate fingerprints match the demo
 * keys). Ledger, challenges and settlements are not copied: the PostgreSQL side starts with
 * empty books.
 *
 * @example
 *   const seed = await seedDemo(dir, [], [], { masterKey });
 *   await copyRegistryToPostgres(seed.dbPath, sql);   // sql: a connection to a migrated database
 */
import Database from 'better-sqlite3';
import type { Sql } from 'postgres';

/** The registry's tables in foreign-key order, with the columns both schemas share. */
const REGISTRY: ReadonlyArray<{ table: string; columns: readonly string[] }> = [
  { table: 'accounts', columns: ['id', 'kind', 'currency'] },
  { table: 'merchants', columns: ['id', 'name', 'status', 'account_id'] },
  { table: 'terminals', columns: ['id', 'merchant_id', 'status'] },
  {
    table: 'terminal_certificates',
    columns: ['fingerprint', 'terminal_id', 'serial', 'not_after', 'issued_at', 'revoked_at'],
  },
  {
    table: 'cards',
    columns: [
      'id',
      'pan_hash',
      'pan_enc',
      'pan_masked',
      'pan_sequence',
      'expiry',
      'cardholder_name',
      'status',
      'pin_salt',
      'pin_verifier',
      'pin_tries',
      'credit_limit_minor',
      'currency',
      'account_id',
      'last_atc',
    ],
  },
  {
    table: 'merchant_cards',
    columns: [
      'id',
      'pan_hash',
      'pan_masked',
      'pan_sequence',
      'expiry',
      'merchant_id',
      'terminal_id',
      'status',
      'issued_at',
    ],
  },
];

/** Copies the registry rows of the SQLite file at `sqlitePath` into `sql` (one transaction); returns rows per table. */
export async function copyRegistryToPostgres(sqlitePath: string, sql: Sql): Promise<Record<string, number>> {
  const db = new Database(sqlitePath, { readonly: true });
  try {
    const counts: Record<string, number> = {};
    await sql.begin(async (tx) => {
      for (const { table, columns } of REGISTRY) {
        const rows = db
          .prepare(`SELECT ${columns.join(', ')} FROM ${table}`)
          .raw()
          .all() as unknown[][];
        const placeholders = columns.map((_, i) => `$${i + 1}`).join(', ');
        for (const row of rows)
          await tx.unsafe(
            `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders})`,
            row.map((v) => (typeof v === 'bigint' ? v.toString() : v)) as never[],
          );
        counts[table] = rows.length;
      }
    });
    return counts;
  } finally {
    db.close();
  }
}
