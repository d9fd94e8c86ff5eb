import { describe, expect, it } from 'vitest';
import type { Sql } from 'postgres';
import { connectPostgres } from '../../../test-support/postgres-server';
import { postgresServerPerFile } from '../../../test-support/postgres-per-file';
import { migratePostgres } from '../migrate';
import { versionOf } from './index';
import { BALANCE_SLOTS } from './0013-spread-account-balances';

const server = postgresServerPerFile();

const V = versionOf('0013-spread-account-balances');
const SEED = `
  INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR'),
    ('acct-C-2', 'cardholder', 'EUR'), ('acct-C-3', 'cardholder', 'EUR');
  INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
  INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active');
  INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, amount_minor, currency, merchant_id, response, created_at)
    VALUES (1, 'T-1', 'a', '\\x00', true, 250, 'EUR', 'M-1', '\\x', 1), (2, 'T-1', 'b', '\\x00', true, 100, 'EUR', 'M-1', '\\x', 2),
           (3, 'T-1', 'c', '\\x00', true, 30, 'EUR', 'M-1', '\\x', 3), (4, 'T-1', 'd', '\\x00', true, 40, 'EUR', 'M-1', '\\x', 4);
  INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at)
    VALUES (1, 'acct-C-1', -250, 'EUR', 1), (1, 'acct-M-1', 250, 'EUR', 1);`;

/** A sale's postings (card, then merchant) on `sql`, inside its transaction `tx`. */
const sale = (tx: Sql, settlement: number, card: string, minor: number) =>
  tx`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at)
       VALUES (${settlement}, ${card}, ${-minor}, 'EUR', 5), (${settlement}, 'acct-M-1', ${minor}, 'EUR', 5)`;

/** Two single connections whose sessions fall in different balance slots. */
async function twoSessions(url: string): Promise<[Sql, Sql, Sql[]]> {
  const opened: Sql[] = [];
  const slotOf = async (s: Sql) =>
    Number((await s<{ p: number }[]>`SELECT pg_backend_pid() AS p`)[0]!.p) % BALANCE_SLOTS;
  const a = connectPostgres(url, { max: 1 });
  opened.push(a);
  const slotA = await slotOf(a);
  for (;;) {
    const b = connectPostgres(url, { max: 1 });
    opened.push(b);
    if ((await slotOf(b)) !== slotA) return [a, b, opened];
  }
}

/**
 * While session A holds an open transaction that posted a sale to the merchant, session B posts
 * another sale to the same merchant with a lock timeout: 'committed' when it did not wait for A,
 * 'lock_timeout' when it did.
 */
async function secondSaleWhileFirstOpen(url: string): Promise<string> {
  const [a, b, opened] = await twoSessions(url);
  try {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let posted!: () => void;
    const first = new Promise<void>((r) => (posted = r));
    const aDone = a.begin(async (tx) => {
      await sale(tx as unknown as Sql, 3, 'acct-C-2', 30);
      posted();
      await held;
    });
    await first;
    let outcome: string;
    try {
      await b.begin(async (tx) => {
        await tx`SET LOCAL lock_timeout = '1s'`;
        await sale(tx as unknown as Sql, 4, 'acct-C-3', 40);
      });
      outcome = 'committed';
    } catch (e) {
      outcome = (e as { code?: string }).code === '55P03' ? 'lock_timeout' : String(e);
    }
    release();
    await aDone;
    return outcome;
  } finally {
    for (const s of opened) await s.end();
  }
}

describe('PostgreSQL migration 0013-spread-account-balances', () => {
  it('moves each balance of a database one version older into its slots; from then on postings add to their session’s slot and an account’s balance is the slots’ sum', async () => {
    const url = await server.createDatabase('m0013');
    const sql = connectPostgres(url);
    try {
      await migratePostgres(sql, V - 1);
      await sql.unsafe(SEED);
      expect((await migratePostgres(sql, V)).applied).toEqual(['0013-spread-account-balances']);
      expect(
        await sql`SELECT account_id AS a, slot, balance_minor AS b FROM account_balance_slots ORDER BY 1`,
      ).toEqual([
        { a: 'acct-C-1', slot: 0, b: -250n },
        { a: 'acct-M-1', slot: 0, b: 250n },
      ]);
      expect(
        await sql`SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'balance_minor'`,
      ).toEqual([]);

      // Two sessions in different slots post sales to one merchant at once: neither waits.
      expect(await secondSaleWhileFirstOpen(url)).toBe('committed');
      const balances = await sql<{ a: string; b: bigint; slots: number }[]>`
        SELECT account_id AS a, SUM(balance_minor)::bigint AS b, COUNT(*)::int AS slots
          FROM account_balance_slots GROUP BY account_id ORDER BY 1`;
      const posted = await sql<{ a: string; b: bigint }[]>`
        SELECT account_id AS a, SUM(amount_minor)::bigint AS b FROM postings GROUP BY account_id ORDER BY 1`;
      expect(balances.map(({ a, b }) => ({ a, b }))).toEqual(posted);
      const merchant = balances.find((r) => r.a === 'acct-M-1')!;
      expect(merchant.b).toBe(320n);
      // Slot 0 (the balance moved by the migration) and the two sessions' slots, which differ (one may be 0).
      expect(merchant.slots).toBeGreaterThanOrEqual(2);

      // The ledger's invariants are unchanged: an unbalanced posting is refused at commit, and the slots with it.
      await expect(
        sql`INSERT INTO postings (settlement_id, account_id, amount_minor, created_at) VALUES (2, 'acct-M-1', 1, 6)`,
      ).rejects.toMatchObject({ code: '23514', constraint_name: 'postings_balanced' });
      expect(
        await sql`SELECT SUM(balance_minor)::int AS s FROM account_balance_slots WHERE account_id = 'acct-M-1'`,
      ).toEqual([{ s: 320 }]);
      // A slot outside 0-31 is refused.
      await expect(
        sql`INSERT INTO account_balance_slots (account_id, slot, balance_minor) VALUES ('acct-C-1', ${BALANCE_SLOTS}, 0)`,
      ).rejects.toMatchObject({ code: '23514' });
    } finally {
      await sql.end();
    }
  });

  it('control: one version older, the second sale waits for the first to commit (one balance row per merchant)', async () => {
    const url = await server.createDatabase('m0011_control');
    const sql = connectPostgres(url);
    try {
      await migratePostgres(sql, V - 1);
      await sql.unsafe(SEED);
      expect(await secondSaleWhileFirstOpen(url)).toBe('lock_timeout');
    } finally {
      await sql.end();
    }
  });
});
