import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0002-create-terminal-certificates', () => {
  it('adds terminal certificates to a database at version 1, keyed by fingerprint and tied to an existing terminal', async () => {
    const sql = connectPostgres(await server.createDatabase('m0002'));
    try {
      await migratePostgres(sql, versionOf('0002-create-terminal-certificates') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');`);
      await migratePostgres(sql, versionOf('0002-create-terminal-certificates'));
      await sql`INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at) VALUES ('fp1', 'T-1', '01', 2000, 1000)`;
      expect(await sql`SELECT terminal_id, revoked_at FROM terminal_certificates`).toEqual([
        { terminal_id: 'T-1', revoked_at: null },
      ]);
      await expect(
        sql`INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at) VALUES ('fp1', 'T-1', '02', 2000, 1000)`,
      ).rejects.toMatchObject({ code: '23505' });
      await expect(
        sql`INSERT INTO terminal_certificates (fingerprint, terminal_id, serial, not_after, issued_at) VALUES ('fp2', 'T-9', '02', 2000, 1000)`,
      ).rejects.toMatchObject({ code: '23503' });
    } finally {
      await sql.end();
    }
  });
});
