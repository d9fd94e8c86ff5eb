import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

const V = versionOf('0011-add-offline-limits');

describe('PostgreSQL migration 0011-add-offline-limits', () => {
  it('keeps the merchants and terminals of version 10, unset; takes a limit, refuses a negative one', async () => {
    const sql = connectPostgres(await server.createDatabase('m0011'));
    try {
      await migratePostgres(sql, V - 1);
      await sql.unsafe(`
        INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');`);
      expect((await migratePostgres(sql, V)).applied).toEqual(['0011-add-offline-limits']);
      for (const table of ['merchants', 'terminals']) {
        expect(
          await sql.unsafe(`SELECT offline_floor_limit_minor AS f, offline_exposure_minor AS e,
            offline_card_daily_count AS c, offline_card_daily_amount_minor AS a FROM ${table}`),
        ).toEqual([{ f: null, e: null, c: null, a: null }]);
        await sql.unsafe(
          `UPDATE ${table} SET offline_floor_limit_minor = 2500, offline_card_daily_count = 0`,
        );
        await expect(sql.unsafe(`UPDATE ${table} SET offline_exposure_minor = -1`)).rejects.toMatchObject({
          code: '23514',
        });
      }
      expect(await sql`SELECT offline_floor_limit_minor::int AS f FROM terminals`).toEqual([{ f: 2500 }]);
    } finally {
      await sql.end();
    }
  });
});
