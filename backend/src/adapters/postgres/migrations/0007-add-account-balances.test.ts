import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0007-add-account-balances', () => {
  it('sets each account of a database at version 6 to the sum of its postings, keeps it on every posting, and refuses changing a posting', async () => {
    const sql = connectPostgres(await server.createDatabase('m0007'));
    try {
      await migratePostgres(sql, versionOf('0007-add-account-balances') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
        INSERT INTO accounts (id, kind, currency) VALUES ('acct-C-2', 'cardholder', 'EUR');
        INSERT INTO batches (id, terminal_id, status, opened_at) VALUES (1, 'T-1', 'open', 1);
        INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor, currency, merchant_id, card_id, response, created_at, batch_id)
          VALUES (1, 'T-1', 'a', '\\x00', true, '', 250, 'EUR', 'M-1', NULL, '\\x00', 1, 1), (2, 'T-1', 'b', '\\x00', true, '', 100, 'EUR', 'M-1', NULL, '\\x00', 2, 1);
        INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id)
          VALUES (1, 'acct-C-1', -250, 'EUR', 1, 1), (1, 'acct-M-1', 250, 'EUR', 1, 1), (2, 'acct-C-1', -100, 'EUR', 2, 1), (2, 'acct-M-1', 100, 'EUR', 2, 1);`);
      await migratePostgres(sql, versionOf('0007-add-account-balances'));
      const balances = () => sql`SELECT id, balance_minor AS b FROM accounts ORDER BY id`;
      expect(await balances()).toEqual([
        { id: 'acct-C-1', b: -350n },
        { id: 'acct-C-2', b: 0n },
        { id: 'acct-M-1', b: 350n },
      ]);
      await sql`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at, batch_id) VALUES (2, 'acct-C-2', -40, 'EUR', 3, 1), (2, 'acct-M-1', 40, 'EUR', 3, 1)`;
      expect(await balances()).toEqual([
        { id: 'acct-C-1', b: -350n },
        { id: 'acct-C-2', b: -40n },
        { id: 'acct-M-1', b: 390n },
      ]);
      await expect(sql`UPDATE postings SET amount_minor = 0 WHERE account_id = 'acct-C-1'`).rejects.toThrow(
        /append-only/,
      );
      await expect(sql`DELETE FROM postings WHERE account_id = 'acct-C-1'`).rejects.toThrow(/append-only/);
      await expect(sql`TRUNCATE postings`).rejects.toThrow(/append-only/);
      expect(await balances()).toEqual([
        { id: 'acct-C-1', b: -350n },
        { id: 'acct-C-2', b: -40n },
        { id: 'acct-M-1', b: 390n },
      ]);
    } finally {
      await sql.end();
    }
  });
});
