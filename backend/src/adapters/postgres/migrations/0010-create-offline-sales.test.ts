import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0010-create-offline-sales', () => {
  it('adds offline sales (once per terminal and id, one settled per card and ATC) and the card status history', async () => {
    const sql = connectPostgres(await server.createDatabase('m0010'));
    try {
      await migratePostgres(sql, versionOf('0010-create-offline-sales') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
        INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                           credit_limit_minor, currency, account_id)
          VALUES ('C-1', 'h1', '\\x00', '679999******0019', '2912', 'A', 'active', '\\x00', '\\x00', 1000, 'EUR', 'acct-C-1');`);
      await migratePostgres(sql, versionOf('0010-create-offline-sales'));
      const ids: number[] = [];
      for (const txn of ['OFF-1', 'OFF-2']) {
        const [row] = await sql<
          Array<{ id: string }>
        >`INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash,
          approved, amount_minor, currency, card_id, merchant_id, response, created_at)
          VALUES ('T-1', ${txn}, '\\x00', true, 500, 'EUR', 'C-1', 'M-1', '\\x00', 1) RETURNING id`;
        ids.push(Number(row!.id));
      }
      const sale = (settlementId: number, offlineId: string, outcome: string, reason: string | null) =>
        sql`INSERT INTO offline_sales (settlement_id, terminal_id, offline_id, card_id, atc, outcome, loss_reason,
          amount_minor, currency, approved_at, forwarded_at)
          VALUES (${settlementId}, 'T-1', ${offlineId}, 'C-1', 7, ${outcome}, ${reason}, 500, 'EUR', 1, 2)`;
      await sale(ids[0]!, 'OFF-1', 'settled', null);
      await expect(sale(ids[1]!, 'OFF-1', 'merchant_loss', 'atc_replayed')).rejects.toMatchObject({
        code: '23505',
      });
      await expect(sale(ids[1]!, 'OFF-2', 'settled', null)).rejects.toMatchObject({ code: '23505' });
      await expect(sale(ids[1]!, 'OFF-2', 'merchant_loss', null)).rejects.toMatchObject({ code: '23514' });
      await sale(ids[1]!, 'OFF-2', 'merchant_loss', 'atc_replayed');
      await sql`UPDATE cards SET status = 'blocked' WHERE id = 'C-1'`;
      await sql`UPDATE cards SET status = 'blocked', pin_tries = 1 WHERE id = 'C-1'`;
      expect(await sql`SELECT old_status, new_status FROM card_status_changes`).toEqual([
        { old_status: 'active', new_status: 'blocked' },
      ]);
    } finally {
      await sql.end();
    }
  });
});
