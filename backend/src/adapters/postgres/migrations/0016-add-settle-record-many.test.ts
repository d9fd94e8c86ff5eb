import { describe, expect, it } from 'vitest';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { SETTLE_ITEM_STALE, SETTLE_ITEM_UNBALANCED, SETTLE_RECORD_MANY } from '../statements';
import { versionOf } from './index';

const server = postgresServerPerFile();

describe('PostgreSQL migration 0016-add-settle-record-many', () => {
  it('writes several Settles in one statement: a stale or unbalanced item is undone alone, any other refusal undoes them all', async () => {
    const sql = connectPostgres(await server.createDatabase('m0016'));
    try {
      await migratePostgres(sql, versionOf('0016-add-settle-record-many'));
      await sql.unsafe(`
        INSERT INTO accounts (id, kind, currency) VALUES ('acct-C-1', 'cardholder', 'EUR'), ('acct-M-1', 'merchant', 'EUR'),
          ('acct-M-2', 'merchant', 'GBP');
        INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                           credit_limit_minor, currency, account_id)
          VALUES ('C-1', 'h1', '\\x00', '679999******0019', '2912', 'A', 'active', '\\x00', '\\x00', 1000, 'EUR', 'acct-C-1');
        INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
        INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');`);
      const [card] = await sql`SELECT xmin::text AS v FROM cards WHERE id = 'C-1'`;
      const item = (txn: string, o: { version?: string; amounts?: number[]; accounts?: string[] } = {}) => ({
        cardId: 'C-1',
        cardVersion: o.version ?? String(card!.v),
        balance: 0,
        atc: null,
        pinTries: null,
        authorizationRef: null,
        terminalId: 'T-1',
        terminalTxnId: txn,
        requestHash: '01',
        approved: true,
        declineReason: null,
        amountMinor: 100,
        currency: 'EUR',
        merchantId: 'M-1',
        response: '02',
        createdAt: 10,
        accounts: o.accounts ?? ['acct-C-1', 'acct-M-1'],
        amounts: o.amounts ?? [-100, 100],
        currencies: ['EUR', 'EUR'],
      });
      const many = async (items: object[]) =>
        ((await sql.unsafe(SETTLE_RECORD_MANY, [JSON.stringify(items)]))[0]!.ids as bigint[]).map(Number);
      const count = async () =>
        (
          await sql`SELECT (SELECT count(*) FROM settlements)::int AS s, (SELECT count(*) FROM postings)::int AS p`
        )[0];
      // The first item is written; the second was decided on another version of the card's row; the
      // third, decided on the balance the first left, does not balance.
      const ids = await many([
        item('t1'),
        item('t2', { version: '1' }),
        { ...item('t3', { amounts: [-100, 90] }), balance: -100 },
      ]);
      expect(ids[0]).toBeGreaterThan(0);
      expect(ids.slice(1)).toEqual([SETTLE_ITEM_STALE, SETTLE_ITEM_UNBALANCED]);
      expect(await count()).toEqual({ s: 1, p: 2 });
      expect(
        await sql`SELECT terminal_txn_id, encode(request_hash, 'hex') AS h, encode(response, 'hex') AS r FROM settlements`,
      ).toEqual([{ terminal_txn_id: 't1', h: '01', r: '02' }]);
      // A posting in another currency than its account's: refused by its own trigger, which is not
      // an item's to answer: the whole statement, the good item with it, is undone.
      const balance = -100;
      await expect(
        many([
          { ...item('t4'), balance },
          { ...item('t5', { accounts: ['acct-C-1', 'acct-M-2'] }), balance: balance - 100 },
        ]),
      ).rejects.toMatchObject({ constraint_name: 'postings_currency_of_account' });
      expect(await count()).toEqual({ s: 1, p: 2 });
    } finally {
      await sql.end();
    }
  });
});
