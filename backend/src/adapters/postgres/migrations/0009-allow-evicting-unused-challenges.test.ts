import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

const V = versionOf('0009-allow-evicting-unused-challenges');
const FUTURE = Date.now() + 3_600_000;
const SEED = `
  INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR');
  INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
  INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
  INSERT INTO challenges (un, terminal_id, expires_at, used_at) VALUES
    ('00000001', 'T-1', ${FUTURE}, NULL), ('00000002', 'T-1', ${FUTURE}, 5), ('00000003', 'T-1', ${FUTURE}, NULL);
  INSERT INTO shopper_challenges (un, expires_at, used_at) VALUES ('00000001', ${FUTURE}, NULL), ('00000002', ${FUTURE}, 5);`;

describe('PostgreSQL migration 0009-allow-evicting-unused-challenges', () => {
  it('at version 8 an unused live challenge cannot be deleted; from version 9 it can, a used live one still cannot', async () => {
    const sql = connectPostgres(await server.createDatabase('m0009'));
    try {
      await migratePostgres(sql, V - 1);
      await sql.unsafe(SEED);
      await expect(sql`DELETE FROM challenges WHERE un = '00000001'`).rejects.toMatchObject({
        code: '23514',
        constraint_name: 'challenge_used_once',
      });
      expect((await migratePostgres(sql, V)).applied).toEqual(['0009-allow-evicting-unused-challenges']);
      expect((await sql`DELETE FROM challenges WHERE un = '00000001' RETURNING un`).length).toBe(1);
      expect((await sql`DELETE FROM shopper_challenges WHERE un = '00000001' RETURNING un`).length).toBe(1);
      for (const table of ['challenges', 'shopper_challenges'])
        await expect(sql.unsafe(`DELETE FROM ${table} WHERE un = '00000002'`)).rejects.toMatchObject({
          code: '23514',
          constraint_name: 'challenge_used_once',
        });
      // The other rules stand: a used challenge never changes, an expiry never moves.
      await expect(sql`UPDATE challenges SET used_at = NULL WHERE un = '00000002'`).rejects.toMatchObject({
        code: '23514',
      });
      await expect(
        sql`UPDATE challenges SET expires_at = expires_at + 1 WHERE un = '00000003'`,
      ).rejects.toMatchObject({ code: '23514' });
      expect(await sql`SELECT un FROM challenges ORDER BY un`).toEqual([
        { un: '00000002' },
        { un: '00000003' },
      ]);
    } finally {
      await sql.end();
    }
  });
});
