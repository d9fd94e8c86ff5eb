import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { RAISE_LAST_ATC, USE_ATC } from '../statements';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0012-create-card-atcs', () => {
  it('sets each card’s floor to its last ATC; the store’s statement takes each ATC above it once, in any order', async () => {
    const sql = connectPostgres(await server.createDatabase('m0012'));
    try {
      await migratePostgres(sql, versionOf('0012-create-card-atcs') - 1);
      await sql.unsafe(`INSERT INTO accounts (id, kind, currency) VALUES ('acct-C-1', 'cardholder', 'EUR'), ('acct-C-2', 'cardholder', 'EUR');
        INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                           credit_limit_minor, currency, account_id, last_atc)
          VALUES ('C-1', 'h1', '\\x00', '679999******0019', '2912', 'A', 'active', '\\x00', '\\x00', 1000, 'EUR', 'acct-C-1', 12),
                 ('C-2', 'h2', '\\x00', '679999******0027', '2912', 'B', 'active', '\\x00', '\\x00', 1000, 'EUR', 'acct-C-2', -1);`);
      await migratePostgres(sql, versionOf('0012-create-card-atcs'));
      expect(await sql`SELECT id, atc_floor, last_atc FROM cards ORDER BY id`).toEqual([
        { id: 'C-1', atc_floor: 12, last_atc: 12 },
        { id: 'C-2', atc_floor: -1, last_atc: -1 },
      ]);
      const use = async (card: string, atc: number) => {
        const won = (await sql.unsafe(USE_ATC, [card, atc])).length === 1;
        if (won) await sql.unsafe(RAISE_LAST_ATC, [card, atc]);
        return won;
      };
      expect(await use('C-1', 12)).toBe(false);
      expect(await use('C-1', 15)).toBe(true);
      expect(await use('C-1', 13)).toBe(true);
      expect(await use('C-1', 15)).toBe(false);
      expect(await use('C-2', 3)).toBe(true);
      expect(await sql`SELECT last_atc FROM cards WHERE id = 'C-1'`).toEqual([{ last_atc: 15 }]);
      await expect(sql`INSERT INTO card_atcs (card_id, atc) VALUES ('C-2', 3)`).rejects.toMatchObject({
        code: '23505',
      });
      await expect(sql`INSERT INTO card_atcs (card_id, atc) VALUES ('C-2', 70000)`).rejects.toMatchObject({
        code: '23514',
      });
    } finally {
      await sql.end();
    }
  });
});
