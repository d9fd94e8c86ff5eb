import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

const NOW = 1_000_000;

describe('PostgreSQL migration 0015-index-challenges', () => {
  it("bounds a terminal's challenges and purges the expired ones through indexes, not a scan of every terminal's", async () => {
    const sql = connectPostgres(await server.createDatabase('m0015'));
    try {
      await migratePostgres(sql, versionOf('0015-index-challenges') - 1);
      // 40 terminals with 250 live challenges each, and a few expired ones.
      await sql.unsafe(`
        INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) SELECT 'T-' || t, 'M-1', 'active' FROM generate_series(1, 40) t;
        INSERT INTO challenges (un, terminal_id, expires_at)
          SELECT lpad(to_hex(i), 8, '0'), 'T-' || (i % 40 + 1), ${NOW} + 60000 + i FROM generate_series(1, 10000) i;
        INSERT INTO challenges (un, terminal_id, expires_at)
          SELECT lpad(to_hex(100000 + i), 8, '0'), 'T-' || (i % 40 + 1), ${NOW} - i FROM generate_series(1, 5) i;
        INSERT INTO shopper_challenges (un, expires_at)
          SELECT lpad(to_hex(i), 8, '0'), ${NOW} + 60000 + i FROM generate_series(1, 10000) i;
        ANALYZE challenges; ANALYZE shopper_challenges;`);
      const plan = async (statement: string) =>
        (await sql.unsafe(`EXPLAIN ${statement}`)).map((r) => String(r['QUERY PLAN'])).join('\n');
      const bound = `DELETE FROM challenges WHERE terminal_id = 'T-7' AND (expires_at < ${NOW} OR (used_at IS NULL AND un IN (
          SELECT un FROM challenges WHERE terminal_id = 'T-7' AND expires_at >= ${NOW}
           ORDER BY expires_at DESC, un DESC OFFSET 64)))`;
      const purge = `DELETE FROM challenges WHERE expires_at < ${NOW}`;
      const purgeShopper = `DELETE FROM shopper_challenges WHERE expires_at < ${NOW}`;
      // Before: every one of them reads the whole table (the control).
      for (const s of [bound, purge, purgeShopper]) expect(await plan(s)).toMatch(/Seq Scan/);
      await migratePostgres(sql, versionOf('0015-index-challenges'));
      await sql.unsafe('ANALYZE challenges; ANALYZE shopper_challenges;');
      expect(await plan(bound)).not.toMatch(/Seq Scan/);
      expect(await plan(bound)).toMatch(/challenges_by_terminal/);
      expect(await plan(purge)).toMatch(/challenges_by_expiry/);
      expect(await plan(purgeShopper)).toMatch(/shopper_challenges_by_expiry/);
      // The rows it removes are the same: the expired ones first.
      expect((await sql.unsafe(`${purge} RETURNING un`)).length).toBe(5);
    } finally {
      await sql.end();
    }
  });
});
