import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

const V = versionOf('0008-add-ledger-invariants');
const SEED = `
  INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
  INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
  INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
  INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, amount_minor, currency, merchant_id, response, created_at)
    VALUES (1, 'T-1', 'a', '\\x00', true, 250, 'EUR', 'M-1', '\\x', 1), (2, 'T-1', 'b', '\\x00', true, 100, 'EUR', 'M-1', '\\x', 2);
  INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at)
    VALUES (1, 'acct-C-1', -250, 'EUR', 1), (1, 'acct-M-1', 250, 'EUR', 1);`;

describe('PostgreSQL migration 0008-add-ledger-invariants', () => {
  it("migrates a balanced database at version 7; from then on a posting takes its account's currency and the ledger is checked at commit", async () => {
    const sql = connectPostgres(await server.createDatabase('m0008'));
    try {
      await migratePostgres(sql, V - 1);
      await sql.unsafe(SEED);
      expect((await migratePostgres(sql, V)).applied).toEqual(['0008-add-ledger-invariants']);
      // The currency is derived from the account when left out.
      await sql.begin(async (tx) => {
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, created_at) VALUES (2, 'acct-C-1', -100, 3), (2, 'acct-M-1', 100, 3)`;
      });
      expect(await sql`SELECT DISTINCT currency FROM postings`).toEqual([{ currency: 'EUR' }]);
      expect(await sql`SELECT id, balance_minor AS b FROM accounts ORDER BY id`).toEqual([
        { id: 'acct-C-1', b: -350n },
        { id: 'acct-M-1', b: 350n },
      ]);
      // Postings inserted one by one in a transaction: checked at COMMIT, not per statement.
      await sql`INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, amount_minor, currency, merchant_id, response, created_at)
        VALUES (3, 'T-1', 'c', '\\x00', true, 70, 'EUR', 'M-1', '\\x', 4)`;
      await sql.begin(async (tx) => {
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, created_at) VALUES (3, 'acct-C-1', -70, 4)`;
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, created_at) VALUES (3, 'acct-M-1', 70, 4)`;
      });
      await expect(
        sql`INSERT INTO postings (settlement_id, account_id, amount_minor, created_at) VALUES (3, 'acct-M-1', 1, 5)`,
      ).rejects.toMatchObject({ code: '23514', constraint_name: 'postings_balanced' });
      expect(
        await sql`SELECT COALESCE(SUM(amount_minor), 0)::int AS s, COUNT(*)::int AS n FROM postings`,
      ).toEqual([{ s: 0, n: 6 }]);
    } finally {
      await sql.end();
    }
  });

  it('refuses to migrate a database at version 7 whose ledger does not balance, and leaves it at version 7', async () => {
    const sql = connectPostgres(await server.createDatabase('m0008_unbalanced'));
    try {
      await migratePostgres(sql, V - 1);
      await sql.unsafe(`${SEED}
        INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (2, 'acct-M-1', 100, 'EUR', 2);`);
      await expect(migratePostgres(sql, V)).rejects.toMatchObject({ code: '23514' });
      expect(await sql`SELECT max(version) AS v FROM schema_migrations`).toEqual([{ v: V - 1 }]);
      expect(await sql`SELECT COUNT(*)::int AS n FROM pg_trigger WHERE tgname = 'postings_balanced'`).toEqual(
        [{ n: 0 }],
      );
    } finally {
      await sql.end();
    }
  });
});
