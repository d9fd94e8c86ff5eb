import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0004-add-authorization-cvm', () => {
  it('marks the authorizations of a database at version 3 as online PIN and accepts only the known methods', async () => {
    const sql = connectPostgres(await server.createDatabase('m0004'));
    try {
      await migratePostgres(sql, versionOf('0004-add-authorization-cvm') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
        INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier, credit_limit_minor, currency, account_id)
          VALUES ('C-1', 'h1', '\\x01', '476173******0010', '2912', 'A N Other', 'active', '\\x02', '\\x03', 100000, 'EUR', 'acct-C-1');
        INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at) VALUES ('A-1', 'C-1', 'T-1', '01020304', 100);`);
      await migratePostgres(sql, versionOf('0004-add-authorization-cvm'));
      expect(await sql`SELECT ref, cvm, settled FROM authorizations`).toEqual([
        { ref: 'A-1', cvm: 'online_pin', settled: false },
      ]);
      await sql`INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at, cvm) VALUES ('A-2', 'C-1', 'T-1', '05060708', 100, 'biometric')`;
      await expect(
        sql`INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at, cvm) VALUES ('A-3', 'C-1', 'T-1', '0a0b0c0d', 100, 'no_cvm')`,
      ).rejects.toMatchObject({ code: '23514' });
    } finally {
      await sql.end();
    }
  });
});
