import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0001-create-schema', () => {
  it("creates an empty database's tables with bigint money, one settlement per terminal transaction and foreign keys", async () => {
    const sql = connectPostgres(await server.createDatabase('m0001'));
    try {
      expect((await migratePostgres(sql, versionOf('0001-create-schema'))).applied).toEqual([
        '0001-create-schema',
      ]);
      const types = await sql<{ table_name: string; column_name: string; data_type: string }[]>`
        SELECT table_name, column_name, data_type FROM information_schema.columns
         WHERE column_name IN ('amount_minor', 'credit_limit_minor') ORDER BY table_name, column_name`;
      expect(types.map((t) => `${t.table_name}.${t.column_name}:${t.data_type}`)).toEqual([
        'cards.credit_limit_minor:bigint',
        'postings.amount_minor:bigint',
        'settlements.amount_minor:bigint',
      ]);
      await sql`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR')`;
      await sql`INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1')`;
      await sql`INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active')`;
      // Money beyond 2^53 is kept exactly.
      const big = 9_007_199_254_740_993n;
      const [s] = await sql<
        { id: bigint }[]
      >`INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, amount_minor, currency, merchant_id, response, created_at)
        VALUES ('T-1', 'a', '\\x00', true, ${big}, 'EUR', 'M-1', '\\x', 1) RETURNING id`;
      expect(
        (await sql<{ amount_minor: bigint }[]>`SELECT amount_minor FROM settlements WHERE id = ${s!.id}`)[0]!
          .amount_minor,
      ).toBe(big);
      await expect(sql`INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, amount_minor, currency, merchant_id, response, created_at)
        VALUES ('T-1', 'a', '\\x00', true, 1, 'EUR', 'M-1', '\\x', 2)`).rejects.toMatchObject({
        code: '23505',
        constraint_name: 'settlements_one_per_terminal_txn',
      });
      await expect(
        sql`INSERT INTO accounts (id, kind, currency) VALUES ('acct-x', 'cardholder', 'eu')`,
      ).rejects.toMatchObject({ code: '23514' });
      await expect(
        sql`INSERT INTO terminals (id, merchant_id, status) VALUES ('T-2', 'M-none', 'active')`,
      ).rejects.toMatchObject({ code: '23503' });
      expect(await sql`SELECT version, name FROM schema_migrations`).toEqual([
        { version: 1, name: '0001-create-schema' },
      ]);
    } finally {
      await sql.end();
    }
  });
});
