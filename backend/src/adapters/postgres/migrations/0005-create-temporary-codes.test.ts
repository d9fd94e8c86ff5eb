import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0005-create-temporary-codes', () => {
  it('adds the shopper tables to a database at version 4: a code is used together with its settlement or not at all', async () => {
    const sql = connectPostgres(await server.createDatabase('m0005'));
    try {
      await migratePostgres(sql, versionOf('0005-create-temporary-codes') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
        INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier, credit_limit_minor, currency, account_id)
          VALUES ('C-1', 'h1', '\\x01', '476173******0010', '2912', 'A N Other', 'active', '\\x02', '\\x03', 100000, 'EUR', 'acct-C-1');`);
      await migratePostgres(sql, versionOf('0005-create-temporary-codes'));
      await sql`INSERT INTO shopper_challenges (un, expires_at) VALUES ('01020304', 100)`;
      await expect(
        sql`INSERT INTO shopper_challenges (un, expires_at) VALUES ('01020304', 200)`,
      ).rejects.toMatchObject({ code: '23505' });
      await sql`INSERT INTO temporary_codes (code_hash, card_id, limit_minor, currency, created_at, expires_at) VALUES ('hh', 'C-1', 5000, 'EUR', 1, 100)`;
      await expect(sql`UPDATE temporary_codes SET used_at = 50`).rejects.toMatchObject({ code: '23514' });
      await expect(
        sql`INSERT INTO temporary_codes (code_hash, card_id, limit_minor, currency, created_at, expires_at) VALUES ('hh', 'C-1', 0, 'EUR', 1, 100)`,
      ).rejects.toMatchObject({ code: '23514' });
      await sql`INSERT INTO code_attempts (merchant_id, terminal_id, at) VALUES ('M-1', 'T-1', 5)`;
      expect(await sql`SELECT COUNT(*)::int AS n FROM code_attempts`).toEqual([{ n: 1 }]);
    } finally {
      await sql.end();
    }
  });
});
