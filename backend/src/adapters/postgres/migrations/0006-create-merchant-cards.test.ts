import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0006-create-merchant-cards', () => {
  it('adds merchant cards to a database at version 5, one terminal row and one PAN hash each', async () => {
    const sql = connectPostgres(await server.createDatabase('m0006'));
    try {
      await migratePostgres(sql, versionOf('0006-create-merchant-cards') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-MC-1', 'M-1', 'active');`);
      await migratePostgres(sql, versionOf('0006-create-merchant-cards'));
      await sql`INSERT INTO merchant_cards (id, pan_hash, pan_masked, pan_sequence, expiry, merchant_id, terminal_id, status, issued_at)
        VALUES ('MC-1', 'mh1', '500000******0001', 0, '2912', 'M-1', 'T-MC-1', 'active', 1)`;
      await expect(sql`INSERT INTO merchant_cards (id, pan_hash, pan_masked, pan_sequence, expiry, merchant_id, terminal_id, status, issued_at)
        VALUES ('MC-2', 'mh2', '500000******0002', 0, '2912', 'M-1', 'T-MC-1', 'active', 1)`).rejects.toMatchObject(
        { code: '23505' },
      );
      await expect(sql`INSERT INTO merchant_cards (id, pan_hash, pan_masked, pan_sequence, expiry, merchant_id, terminal_id, status, issued_at)
        VALUES ('MC-3', 'mh1', '500000******0001', 0, '2912', 'M-1', 'T-1', 'active', 1)`).rejects.toMatchObject(
        { code: '23505' },
      );
      expect(await sql`SELECT id, terminal_id FROM merchant_cards`).toEqual([
        { id: 'MC-1', terminal_id: 'T-MC-1' },
      ]);
    } finally {
      await sql.end();
    }
  });
});
