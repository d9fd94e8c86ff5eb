import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0003-create-batches-and-adjustments', () => {
  it('puts the approved settlements of a database at version 2 into one open batch per terminal, with their postings', async () => {
    const sql = connectPostgres(await server.createDatabase('m0003'));
    try {
      await migratePostgres(sql, versionOf('0003-create-batches-and-adjustments') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
        INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor, currency, merchant_id, response, created_at)
          VALUES (1, 'T-1', 'a', '\\x00', true, NULL, 700, 'EUR', 'M-1', '\\x', 10), (2, 'T-1', 'b', '\\x00', false, 'insufficient_funds', 900, 'EUR', 'M-1', '\\x', 20);
        INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (1, 'acct-C-1', -700, 'EUR', 10), (1, 'acct-M-1', 700, 'EUR', 10);`);
      await migratePostgres(sql, versionOf('0003-create-batches-and-adjustments'));
      const batches = await sql<
        { id: bigint; terminal_id: string; status: string; opened_at: bigint }[]
      >`SELECT id, terminal_id, status, opened_at FROM batches`;
      expect(batches).toEqual([{ id: 1n, terminal_id: 'T-1', status: 'open', opened_at: 10n }]);
      expect(await sql`SELECT id, batch_id FROM settlements ORDER BY id`).toEqual([
        { id: 1n, batch_id: 1n },
        { id: 2n, batch_id: null },
      ]);
      expect(
        await sql`SELECT COUNT(*)::int AS n FROM postings WHERE batch_id = 1 AND adjustment_id IS NULL`,
      ).toEqual([{ n: 2 }]);
      // At most one open batch per terminal; an adjustment is unique per (terminal, kind, id).
      await expect(
        sql`INSERT INTO batches (terminal_id, status, opened_at) VALUES ('T-1', 'open', 30)`,
      ).rejects.toMatchObject({ code: '23505', constraint_name: 'batches_one_open' });
      const adjust =
        () => sql`INSERT INTO adjustments (kind, terminal_id, op_txn_id, original_txn_id, settlement_id, batch_id, request_hash, approved, amount_minor, currency, response, created_at)
        VALUES ('refund', 'T-1', 'r1', 'a', 1, 1, '\\x00', true, 100, 'EUR', '\\x', 40)`;
      await adjust();
      await expect(adjust()).rejects.toMatchObject({
        code: '23505',
        constraint_name: 'adjustments_one_per_op',
      });
    } finally {
      await sql.end();
    }
  });
});
