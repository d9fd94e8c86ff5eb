/**
 * Raw SQL against the PostgreSQL schema, as a node with a bug (or a person holding the servers'
 * database role) would send it, trying to break the invariants the database guards itself:
 * the ledger sums to zero per currency in every transaction, one settlement per terminal
 * transaction id, a UN redeemed once, ATCs only forward. Each attack runs twice, as the servers'
 * role (not the tables' owner, not a superuser): on a database at the last migration before the
 * invariants (a control: the attack goes through there, so the test can fail) and on the newest
 * (refused, nothing changed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres, { type Sql, type TransactionSql } from 'postgres';
import {
  startPostgresServer,
  connectPostgres,
  type PostgresServer,
} from '../../backend/src/test-support/postgres-server';
import { migratePostgres } from '../../backend/src/adapters/postgres/migrate';
import { versionOf } from '../../backend/src/adapters/postgres/migrations/index';
import { TAKE_CHALLENGE, ADVANCE_ATC } from '../../backend/src/adapters/postgres/statements';

const INVARIANTS = versionOf('0008-add-ledger-invariants');
const APP_ROLE = 'bluetill_app';
const FUTURE = Date.now() + 3_600_000;

let server: PostgresServer;
beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

const templates = new Map<number, string>();

/** A database at `version` with a small world (cloned from a template built once), and a connection as the servers' role. */
async function world(name: string, version: number): Promise<{ owner: Sql; app: Sql }> {
  if (!templates.has(version)) templates.set(version, await buildTemplate(`world_v${version}`, version));
  const url = await server.createDatabase(name, templates.get(version));
  const owner = connectPostgres(url, { max: 2 });
  const app = postgres(url.replace('bluetill@', `${APP_ROLE}@`), {
    max: 2,
    onnotice: () => undefined,
    types: { bigint: postgres.BigInt },
  });
  return { owner, app };
}

async function buildTemplate(name: string, version: number): Promise<string> {
  const owner = connectPostgres(await server.createDatabase(name), { max: 1 });
  await migratePostgres(owner, version);
  await owner.unsafe(`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN CREATE ROLE ${APP_ROLE} LOGIN; END IF;
    END $$;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${APP_ROLE};
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${APP_ROLE};
    INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-1', 'merchant', 'EUR'), ('acct-C-1', 'cardholder', 'EUR'),
      ('acct-M-USD', 'merchant', 'USD'), ('acct-C-USD', 'cardholder', 'USD');
    INSERT INTO merchants (id, name, status, account_id) VALUES ('M-1', 'Shop', 'active', 'acct-M-1');
    INSERT INTO terminals (id, merchant_id, status) VALUES ('T-1', 'M-1', 'active'), ('T-2', 'M-1', 'active');
    INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier, credit_limit_minor, currency, account_id, last_atc)
      VALUES ('C-1', 'h1', '\\x01', '476173******0010', '2912', 'A N Other', 'active', '\\x02', '\\x03', 100000, 'EUR', 'acct-C-1', 10);
    INSERT INTO settlements (id, terminal_id, terminal_txn_id, request_hash, approved, amount_minor, currency, merchant_id, card_id, response, created_at)
      VALUES (1, 'T-1', 'sale-1', '\\x00', true, 500, 'EUR', 'M-1', 'C-1', '\\x', 1);
    SELECT setval(pg_get_serial_sequence('settlements', 'id'), 1);
    INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (1, 'acct-C-1', -500, 'EUR', 1), (1, 'acct-M-1', 500, 'EUR', 1);
    INSERT INTO challenges (un, terminal_id, expires_at, used_at) VALUES ('0a0b0c0d', 'T-1', ${FUTURE}, 5), ('01020304', 'T-1', ${FUTURE}, NULL), ('0f0f0f0f', 'T-1', 1000, NULL);
    INSERT INTO shopper_challenges (un, expires_at, used_at) VALUES ('0a0b0c0d', ${FUTURE}, 5);
    INSERT INTO temporary_codes (code_hash, card_id, limit_minor, currency, created_at, expires_at, used_at, settlement_id) VALUES ('hh', 'C-1', 5000, 'EUR', 1, ${FUTURE}, 3, 1);`);
  await owner.end();
  return name;
}

interface Attack {
  readonly name: string;
  /** Refused before migration 0008 too: a unique key of the first migration, or a right the servers' role never had. */
  readonly refusedWithout0008?: boolean;
  run(app: Sql): Promise<unknown>;
}

const newSettlement = (tx: Sql | TransactionSql, txnId: string) => tx`
  INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, amount_minor, currency, merchant_id, response, created_at)
  VALUES ('T-1', ${txnId}, '\\x00', true, 100, 'EUR', 'M-1', '\\x', 2) RETURNING id`;

const attacks: readonly Attack[] = [
  {
    name: 'ledger: one posting, no counter-posting',
    run: (app) =>
      app.begin(async (tx) => {
        const [s] = await newSettlement(tx, 'one-sided');
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (${s!.id}, 'acct-M-1', 100, 'EUR', 2)`;
      }),
  },
  {
    name: 'ledger: postings that sum to 1',
    run: (app) =>
      app.begin(async (tx) => {
        const [s] = await newSettlement(tx, 'off-by-one');
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (${s!.id}, 'acct-C-1', -100, 'EUR', 2), (${s!.id}, 'acct-M-1', 101, 'EUR', 2)`;
      }),
  },
  {
    name: 'ledger: checked immediately instead of at commit (SET CONSTRAINTS ALL IMMEDIATE)',
    run: (app) =>
      app.begin(async (tx) => {
        await tx`SET CONSTRAINTS ALL IMMEDIATE`;
        const [s] = await newSettlement(tx, 'immediate');
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (${s!.id}, 'acct-M-1', 100, 'EUR', 2)`;
      }),
  },
  {
    name: 'ledger: a later posting added to a balanced settlement',
    run: (app) =>
      app`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (1, 'acct-M-1', 50, 'EUR', 3)`,
  },
  {
    name: 'ledger: zero in total but across two currencies',
    run: (app) =>
      app.begin(async (tx) => {
        const [s] = await newSettlement(tx, 'cross-currency');
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (${s!.id}, 'acct-C-1', -100, 'EUR', 2), (${s!.id}, 'acct-M-USD', 100, 'USD', 2)`;
      }),
  },
  {
    name: 'ledger: a posting labelled in another currency than its account',
    run: (app) =>
      app.begin(async (tx) => {
        const [s] = await newSettlement(tx, 'relabelled');
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (${s!.id}, 'acct-C-1', -100, 'USD', 2), (${s!.id}, 'acct-M-1', 100, 'USD', 2)`;
      }),
  },
  {
    name: 'ledger: an account moved to another currency',
    run: (app) => app`UPDATE accounts SET currency = 'USD' WHERE id = 'acct-C-1'`,
  },
  {
    name: 'ledger: triggers switched off (session_replication_role = replica)',
    refusedWithout0008: true,
    run: (app) =>
      app.begin(async (tx) => {
        await tx`SET LOCAL session_replication_role = replica`;
        const [s] = await newSettlement(tx, 'replica');
        await tx`INSERT INTO postings (settlement_id, account_id, amount_minor, currency, created_at) VALUES (${s!.id}, 'acct-M-1', 100, 'EUR', 2)`;
      }),
  },
  {
    name: 'ledger: triggers disabled (ALTER TABLE postings DISABLE TRIGGER ALL)',
    refusedWithout0008: true,
    run: (app) => app`ALTER TABLE postings DISABLE TRIGGER ALL`,
  },
  {
    name: 'settlement: the same (terminal, txn id) twice',
    refusedWithout0008: true,
    run: (app) => newSettlement(app, 'sale-1'),
  },
  {
    name: 'UN: a used challenge reset to unused',
    run: (app) => app`UPDATE challenges SET used_at = NULL WHERE un = '0a0b0c0d' AND terminal_id = 'T-1'`,
  },
  {
    name: 'UN: a used challenge redeemed again (raw UPDATE, no WHERE used_at IS NULL)',
    run: (app) => app`UPDATE challenges SET used_at = 99 WHERE un = '0a0b0c0d' AND terminal_id = 'T-1'`,
  },
  {
    name: 'UN: an expired challenge redeemed (raw UPDATE, no expiry check)',
    run: (app) => app`UPDATE challenges SET used_at = 2000 WHERE un = '0f0f0f0f'`,
  },
  {
    name: "UN: an unused challenge's expiry extended",
    run: (app) => app`UPDATE challenges SET expires_at = ${FUTURE * 2} WHERE un = '01020304'`,
  },
  {
    name: 'UN: an unused challenge moved to another terminal',
    run: (app) => app`UPDATE challenges SET terminal_id = 'T-2' WHERE un = '01020304'`,
  },
  {
    name: 'UN: a used challenge deleted before it expired (to issue it again)',
    run: (app) => app`DELETE FROM challenges WHERE un = '0a0b0c0d'`,
  },
  {
    name: "UN: a phone's used challenge reset",
    run: (app) => app`UPDATE shopper_challenges SET used_at = NULL WHERE un = '0a0b0c0d'`,
  },
  {
    name: 'code: a used temporary code made unused',
    run: (app) => app`UPDATE temporary_codes SET used_at = NULL, settlement_id = NULL`,
  },
  { name: 'ATC: moved back', run: (app) => app`UPDATE cards SET last_atc = 5 WHERE id = 'C-1'` },
  { name: 'ATC: beyond two bytes', run: (app) => app`UPDATE cards SET last_atc = 70000 WHERE id = 'C-1'` },
];

async function books(owner: Sql) {
  const [b] = await owner<
    { sum: string; n: number; unbalanced: number; atc: number; used: number; settlements: number }[]
  >`
    SELECT (SELECT COALESCE(SUM(amount_minor), 0)::text FROM postings) AS sum, (SELECT COUNT(*)::int FROM postings) AS n,
           (SELECT COUNT(*)::int FROM (SELECT 1 FROM postings GROUP BY settlement_id, adjustment_id, currency HAVING SUM(amount_minor) <> 0) u) AS unbalanced,
           (SELECT last_atc FROM cards WHERE id = 'C-1') AS atc,
           (SELECT COUNT(*)::int FROM challenges WHERE used_at IS NOT NULL) AS used,
           (SELECT COUNT(*)::int FROM settlements) AS settlements`;
  return b!;
}

describe('PostgreSQL invariants against raw SQL', () => {
  it('every attack goes through on the schema before the invariants and is refused by the database after, leaving the books as they were', async () => {
    const results: { attack: string; control: 'accepted' | string; refused: string }[] = [];
    let db = 0;
    for (const attack of attacks) {
      db++;
      const before = await world(`control_${db}`, INVARIANTS - 1);
      let control: string;
      try {
        await attack.run(before.app);
        control = 'accepted';
      } catch (err) {
        control = String((err as { code?: string }).code ?? err);
      }
      await before.app.end();
      await before.owner.end();
      expect(control === 'accepted', `control (version ${INVARIANTS - 1}): ${attack.name}`).toBe(
        !attack.refusedWithout0008,
      );
      if (!attack.refusedWithout0008)
        expect(control, `control (version ${INVARIANTS - 1}): ${attack.name}`).toBe('accepted');

      const after = await world(`guarded_${db}`, INVARIANTS);
      const untouched = await books(after.owner);
      let refused = 'accepted';
      try {
        await attack.run(after.app);
      } catch (err) {
        refused = String((err as { code?: string }).code ?? err);
      }
      // 23xxx: an integrity constraint; 42501: not allowed to the servers' role.
      expect(refused, attack.name).toMatch(/^(23\d{3}|42501)$/);
      expect(await books(after.owner), attack.name).toEqual(untouched);
      await after.app.end();
      await after.owner.end();
      results.push({ attack: attack.name, control, refused });
    }

    // The statements the store uses still do their job under the invariants.
    const live = await world('statements', INVARIANTS);
    const racers = Array.from({ length: 8 }, () =>
      postgres(`postgresql://${APP_ROLE}@127.0.0.1:${server.port}/statements`, {
        max: 1,
        onnotice: () => undefined,
      }),
    );
    const taken = await Promise.all(racers.map((r) => r.unsafe(TAKE_CHALLENGE, ['01020304', 'T-1', 100])));
    expect(taken.map((rows) => rows.length).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    const atc = await Promise.all(racers.map((r, i) => r.unsafe(ADVANCE_ATC, ['C-1', 11 + (i % 2)])));
    expect(atc.map((rows) => rows.length).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2);
    expect((await books(live.owner)).atc).toBeGreaterThanOrEqual(11);
    expect(await live.app.unsafe(ADVANCE_ATC, ['C-1', 11])).toHaveLength(0);
    const dup = await Promise.allSettled(racers.map((r) => newSettlement(r, 'raced')));
    expect(dup.filter((d) => d.status === 'fulfilled')).toHaveLength(1);
    expect(
      dup.filter((d) => d.status === 'rejected').map((d) => (d as PromiseRejectedResult).reason.code),
    ).toEqual(Array(7).fill('23505'));
    await Promise.all(racers.map((r) => r.end()));
    await live.app.end();
    await live.owner.end();

    const approved = results.filter((r) => r.refused === 'accepted').length;
    process.stdout.write(
      `${JSON.stringify({
        bench: 'faults_postgres_invariants',
        value: attacks.length,
        unit: 'attacks',
        approved,
        controlAccepted: results.filter((r) => r.control === 'accepted').length,
        refusedBy: Object.fromEntries(results.map((r) => [r.attack, r.refused])),
      })}\n`,
    );
    expect(approved).toBe(0);
  }, 120_000);
});
