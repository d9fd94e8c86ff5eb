import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';

const server = postgresServerPerFile();

/** settle_record on its own (the store sends it through settle_record_many), and what it raises when stale. */
const SETTLE_RECORD = `SELECT settle_record($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
  $17::text[], $18::bigint[], $19::text[]) AS id`;
const SETTLE_STALE = 'BT409';

describe('PostgreSQL migration 0014-add-settle-record', () => {
  it('writes a sale in one statement only while the facts it was decided on hold; otherwise writes nothing', async () => {
    const sql = connectPostgres(await server.createDatabase('m0014'));
    try {
      await migratePostgres(sql, versionOf('0014-add-settle-record'));
      await sql.unsafe(`
        INSERT INTO accounts (id, kind, currency) VALUES ('acct-C-1', 'cardholder', 'EUR'), ('acct-M-1', 'merchant', 'EUR');
        INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                           pin_tries, credit_limit_minor, currency, account_id, last_atc, atc_floor)
          VALUES ('C-1', 'h1', '\\x00', '679999******0019', '2912', 'A', 'active', '\\x00', '\\x00', 0, 1000, 'EUR', 'acct-C-1', 4, 4);
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
        INSERT INTO authorizations (ref, card_id, terminal_id, un, expires_at, cvm)
          VALUES ('A-1', 'C-1', 'T-1', '01020304', 99, 'online_pin'), ('A-2', 'C-1', 'T-1', '05060708', 99, 'online_pin');`);
      const version = async () =>
        String((await sql`SELECT xmin::text AS v FROM cards WHERE id = 'C-1'`)[0]!.v);
      const rows = async () =>
        (
          await sql`SELECT (SELECT count(*) FROM settlements)::int AS s, (SELECT count(*) FROM postings)::int AS p,
          (SELECT count(*) FROM card_atcs)::int AS a, (SELECT count(*) FROM batches)::int AS b`
        )[0];
      type Sale = {
        txn: string;
        version: string | null;
        balance?: number;
        atc?: number | null;
        auth?: string | null;
        card?: string | null;
        amounts?: number[];
      };
      const sale = (o: Sale) =>
        sql.unsafe(SETTLE_RECORD, [
          o.card === undefined ? 'C-1' : o.card,
          o.version,
          o.balance ?? 0,
          o.atc === undefined ? 7 : o.atc,
          o.card === null ? null : 3,
          o.auth === undefined ? 'A-1' : o.auth,
          'T-1',
          o.txn,
          '\\x01',
          true,
          null,
          250,
          'EUR',
          'M-1',
          '\\x02',
          10,
          ['acct-C-1', 'acct-M-1'],
          o.amounts ?? [-250, 250],
          ['EUR', 'EUR'],
        ] as never[]);
      const stale = { code: SETTLE_STALE };
      const v0 = await version();
      // Each fact that no longer holds: nothing written.
      await expect(sale({ txn: 't1', version: String(Number(v0) + 1) })).rejects.toMatchObject(stale);
      await expect(sale({ txn: 't1', version: v0, balance: -1 })).rejects.toMatchObject(stale);
      await expect(sale({ txn: 't1', version: v0, atc: 4 })).rejects.toMatchObject(stale); // at the card's floor
      expect(await rows()).toEqual({ s: 0, p: 0, a: 0, b: 0 });
      // The facts hold: the settlement, its postings in a new open batch, the ATC, the
      // authorization, the PIN tries, in one statement.
      const id = (await sale({ txn: 't1', version: v0 }))[0]!.id;
      expect(await sql`SELECT id, batch_id IS NOT NULL AS batched, card_id FROM settlements`).toEqual([
        { id, batched: true, card_id: 'C-1' },
      ]);
      expect(await sql`SELECT last_atc, pin_tries FROM cards WHERE id = 'C-1'`).toEqual([
        { last_atc: 7, pin_tries: 3 },
      ]);
      expect(await sql`SELECT settled FROM authorizations WHERE ref = 'A-1'`).toEqual([{ settled: true }]);
      expect(await rows()).toEqual({ s: 1, p: 2, a: 1, b: 1 });
      // The card changed (a new version), its balance is -250 now; the id, the ATC and the
      // authorization are used: each refused with what it was decided on.
      const v1 = await version();
      expect(v1).not.toBe(v0);
      await expect(
        sale({ txn: 't2', version: v0, balance: -250, atc: 8, auth: 'A-2' }),
      ).rejects.toMatchObject(stale);
      await expect(sale({ txn: 't2', version: v1, balance: 0, atc: 8, auth: 'A-2' })).rejects.toMatchObject(
        stale,
      );
      await expect(
        sale({ txn: 't1', version: v1, balance: -250, atc: 8, auth: 'A-2' }),
      ).rejects.toMatchObject(stale);
      await expect(
        sale({ txn: 't2', version: v1, balance: -250, atc: 7, auth: 'A-2' }),
      ).rejects.toMatchObject(stale);
      await expect(
        sale({ txn: 't2', version: v1, balance: -250, atc: 8, auth: 'A-1' }),
      ).rejects.toMatchObject(stale);
      expect(await rows()).toEqual({ s: 1, p: 2, a: 1, b: 1 });
      await sale({ txn: 't2', version: v1, balance: -250, atc: 8, auth: 'A-2' });
      expect(await rows()).toEqual({ s: 2, p: 4, a: 2, b: 1 }); // the same open batch
      // Unbalanced postings are refused by the ledger's own check at the statement's commit.
      await expect(
        sale({ txn: 't3', card: null, version: null, atc: null, auth: null, amounts: [-250, 200] }),
      ).rejects.toMatchObject({ constraint_name: 'postings_balanced' });
      expect(await rows()).toEqual({ s: 2, p: 4, a: 2, b: 1 });
    } finally {
      await sql.end();
    }
  });
});
