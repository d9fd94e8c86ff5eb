/**
 * What only the PostgreSQL store has to say, on real PostgreSQL 15 servers (the shared behaviour
 * is in ../backend-store.contract.test.ts): migrations at open; int8 as numbers (never rounded) and
 * bytea as Uint8Array; a deadlock rerun; bounded reruns ending in CommitError; a connection lost
 * in the middle of a commit is CommitError with nothing written, and the store goes on; a
 * multi-host URL with target_session_attrs=read-write finds the writable server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../admin/demo-seed';
import { MasterKey } from '../master-key';
import {
  CommitError,
  type SettleDecision,
  type SettleFacts,
  type SettlementRow,
} from '../../ports/backend-store';
import {
  startPostgresServer,
  connectPostgres,
  freePort,
  type PostgresServer,
} from '../../test-support/postgres-server';
import { copyRegistryToPostgres } from '../../test-support/postgres-registry';
import { PostgresBackendStore } from './backend-store.postgres';
import { postgresErrorKind } from './postgres-errors';
import { postgresMigrations } from './migrations/index';

const NOW = Date.UTC(2026, 11, 7, 12);

let server: PostgresServer;
let seedDir: string;
let seedDb: string;
let databases = 0;
beforeAll(async () => {
  server = await startPostgresServer();
  seedDir = mkdtempSync(join(tmpdir(), 'bluetill-pg-store-'));
  seedDb = (await seedDemo(seedDir, [], [], { masterKey: MasterKey.generate() })).dbPath;
}, 60_000);
afterAll(async () => {
  await server?.stop();
  rmSync(seedDir, { recursive: true, force: true });
});

/** A fresh migrated database with the demo registry, and a store on it. */
async function demoStore(options: { attempts?: number } = {}): Promise<PostgresBackendStore> {
  const url = await server.createDatabase(`store_${++databases}`);
  const store = await PostgresBackendStore.open(url, options);
  await copyRegistryToPostgres(seedDb, store.sql);
  return store;
}

const settlement = (txn: string, amountMinor = 100): SettlementRow => ({
  terminalId: 'T-0001',
  terminalTxnId: txn,
  requestHash: new Uint8Array([1, 2, 3]),
  approved: false,
  declineReason: 'insufficient_funds',
  amountMinor,
  currency: 'EUR',
  cardId: 'card-alice',
  merchantId: 'M-0001',
  response: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
  createdAt: NOW,
  batchId: null,
});

describe('PostgresBackendStore', () => {
  it('migrates at open, once: a second node opening the same database finds nothing to do', async () => {
    const url = await server.createDatabase(`store_${++databases}`);
    const [a, b] = await Promise.all([PostgresBackendStore.open(url), PostgresBackendStore.open(url)]);
    const versions = await a.sql`SELECT version, name FROM schema_migrations ORDER BY version`;
    expect(versions.map((v) => v.name)).toEqual(postgresMigrations.map((m) => m.name));
    await Promise.all([a.close(), b.close()]);
  });

  it('reads int8 as numbers and bytea as Uint8Array, and refuses to round an int8 beyond 2^53', async () => {
    const store = await demoStore();
    try {
      const id = await store.commit((tx) => tx.insertSettlement(settlement('n-1', 2 ** 53 - 1)));
      const row = (await store.read((tx) => tx.findSettlement('T-0001', 'n-1')))!;
      expect(row).toMatchObject({ id, amountMinor: 2 ** 53 - 1, createdAt: NOW, approved: false });
      expect(typeof row.id).toBe('number');
      expect(Object.getPrototypeOf(row.response)).toBe(Uint8Array.prototype);
      expect([...row.response]).toEqual([0xde, 0xad, 0xbe, 0xef]);
      const card = (await store.read((tx) => tx.findCardById('card-alice')))!;
      expect(Object.getPrototypeOf(card.pinVerifier)).toBe(Uint8Array.prototype);
      expect(card).toMatchObject({ creditLimitMinor: 500_00, lastAtc: -1, currency: 'EUR' });
      await store.sql`UPDATE settlements SET amount_minor = 9007199254740993 WHERE terminal_txn_id = 'n-1'`;
      await expect(store.read((tx) => tx.findSettlement('T-0001', 'n-1'))).rejects.toThrow(RangeError);
    } finally {
      await store.close();
    }
  });

  it("plans for data in memory (random_page_cost 1.1): a small table's row is found through its key, not by reading the table; the server's default 4 reads it all", async () => {
    const url = await server.createDatabase(`store_${++databases}`);
    const store = await PostgresBackendStore.open(url);
    const plain = connectPostgres(url, { max: 1 });
    try {
      // A small issuer: 60 cards on a few pages, with the statistics autovacuum gives them.
      await store.sql.unsafe(`
        INSERT INTO accounts (id, kind, currency) SELECT 'acct-x' || i, 'cardholder', 'EUR' FROM generate_series(1, 60) i;
        INSERT INTO cards (id, pan_hash, pan_enc, pan_masked, expiry, cardholder_name, status, pin_salt, pin_verifier,
                           credit_limit_minor, currency, account_id)
          SELECT 'card-x' || i, 'hash-' || i, '\\x00', '679999******0019', '2912', repeat('N', 200), 'active',
                 '\\x00', '\\x00', 1000, 'EUR', 'acct-x' || i FROM generate_series(1, 60) i;
        ANALYZE cards;`);
      const lookup = "EXPLAIN SELECT account_id FROM cards WHERE id = 'card-x7' FOR UPDATE";
      const plan = async (sql: typeof plain) =>
        (await sql.unsafe(lookup)).map((r) => String(Object.values(r)[0])).join('\n');
      expect((await store.sql`SELECT current_setting('random_page_cost') AS c`)[0]!.c).toBe('1.1');
      expect(await plan(store.sql)).toMatch(/Index Scan using cards_pkey/);
      expect((await plain`SELECT current_setting('random_page_cost') AS c`)[0]!.c).toBe('4');
      expect(await plan(plain)).toMatch(/Seq Scan on cards/);
      // The URL's setting wins over the store's default.
      const byUrl = await PostgresBackendStore.open(`${url}?random_page_cost=2`, { migrate: false });
      try {
        expect((await byUrl.sql`SELECT current_setting('random_page_cost') AS c`)[0]!.c).toBe('2');
      } finally {
        await byUrl.close();
      }
    } finally {
      await plain.end();
      await store.close();
    }
  });
  it('reruns a transaction that a deadlock chose as its victim: both commits land', async () => {
    const store = await demoStore();
    try {
      // Two commits lock two cards in opposite orders; each waits for the other to hold its first.
      let arrived = 0;
      let release!: () => void;
      const bothHoldOne = new Promise<void>((r) => (release = r));
      const crossing = (first: string, second: string) =>
        store.commit(async (tx) => {
          const a = (await tx.findCardById(first))!;
          if (++arrived === 2) release();
          await bothHoldOne;
          const b = (await tx.findCardById(second))!;
          await tx.setPinTries(a.id, a.pinTries + 1);
          await tx.setPinTries(b.id, b.pinTries + 1);
          return 'done';
        });
      expect(
        await Promise.all([crossing('card-alice', 'card-bob'), crossing('card-bob', 'card-alice')]),
      ).toEqual(['done', 'done']);
      expect(store.commitStats.serializationRetries).toBeGreaterThanOrEqual(1);
      const tries = await store.read(async (tx) => [
        (await tx.findCardById('card-alice'))!.pinTries,
        (await tx.findCardById('card-bob'))!.pinTries,
      ]);
      expect(tries).toEqual([2, 2]);
    } finally {
      await store.close();
    }
  });

  it('gives up after its attempts: a transaction that always loses on a unique key is CommitError commit_failed', async () => {
    const store = await demoStore({ attempts: 3 });
    try {
      await store.commit((tx) => tx.insertSettlement(settlement('dup-1')));
      let runs = 0;
      const failed = store.commit(async (tx) => {
        runs++;
        await tx.insertSettlement(settlement('dup-1')); // never looks first: loses every time
      });
      await expect(failed).rejects.toBeInstanceOf(CommitError);
      await expect(failed).rejects.toMatchObject({ code: 'commit_failed', cause: { code: '23505' } });
      expect(runs).toBe(3);
      expect(store.commitStats).toMatchObject({ uniqueRetries: 2, failed: 1 });
    } finally {
      await store.close();
    }
  });

  it('turns a connection lost in the middle of a commit into CommitError, writes nothing, and serves the next commit', async () => {
    const store = await demoStore();
    const admin = connectPostgres(server.url.replace(/\/postgres$/, `/store_${databases}`), { max: 1 });
    try {
      let inside!: () => void;
      const started = new Promise<void>((r) => (inside = r));
      let cut!: () => void;
      const wasCut = new Promise<void>((r) => (cut = r));
      const lost = store.commit(async (tx) => {
        await tx.insertSettlement(settlement('lost-1'));
        inside();
        await wasCut;
        await tx.setPinTries('card-alice', 1);
      });
      // The commit may reject as soon as its connection goes: hold its outcome from the start.
      const outcome = lost.then(
        () => undefined,
        (err: unknown) => err,
      );
      await started;
      const killed = await admin`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction'`;
      expect(killed.map((k) => k.ok)).toEqual([true]);
      cut();
      const err = await outcome;
      expect(err).toBeInstanceOf(CommitError);
      expect(err).toMatchObject({ code: 'commit_failed', message: /outcome is unknown/ });
      expect(await store.read((tx) => tx.findSettlement('T-0001', 'lost-1'))).toBeUndefined();
      expect((await store.read((tx) => tx.findCardById('card-alice')))!.pinTries).toBe(0);
      // The pool connects again: the retry of the same request commits.
      await store.commit((tx) => tx.insertSettlement(settlement('lost-1')));
      expect(await store.read((tx) => tx.findSettlement('T-0001', 'lost-1'))).toMatchObject({
        amountMinor: 100,
      });
    } finally {
      await admin.end();
      await store.close();
    }
  });

  it('ends a session left idle inside a commit (its node stopped) after the bound, releasing the card row for another node; the stopped commit is CommitError with nothing written', async () => {
    const url = await server.createDatabase(`store_${++databases}`);
    const frozen = await PostgresBackendStore.open(url, { idleInTransactionTimeoutMs: 500 });
    await copyRegistryToPostgres(seedDb, frozen.sql);
    const other = await PostgresBackendStore.open(url, { migrate: false });
    const admin = connectPostgres(url, { max: 1 });
    try {
      // The session's name says which node (process) holds what.
      const names = await frozen.sql`SELECT current_setting('application_name') AS name,
        current_setting('idle_in_transaction_session_timeout') AS idle`;
      expect(names[0]).toEqual({ name: `bluetill-backend ${process.pid}`, idle: '500ms' });
      let locked!: () => void;
      const holding = new Promise<void>((r) => (locked = r));
      let resume!: () => void;
      const resumed = new Promise<void>((r) => (resume = r));
      const stopped = frozen
        .commit(async (tx) => {
          await tx.findCardById('card-alice'); // FOR UPDATE: the card row is the lock
          await tx.insertSettlement(settlement('frozen-1'));
          locked();
          await resumed; // the node stops here: its session sits idle in the transaction
          await tx.setPinTries('card-alice', 2);
        })
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      await holding;
      const t0 = Date.now();
      // Another node takes the same card: it waits for the row until the server ends the idle session.
      await other.commit(async (tx) => {
        await tx.findCardById('card-alice');
        await tx.setPinTries('card-alice', 1);
      });
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(waited).toBeLessThan(5_000);
      resume();
      const err = await stopped;
      expect(err).toBeInstanceOf(CommitError);
      expect(err).toMatchObject({ code: 'commit_failed', message: /outcome is unknown/ });
      expect(await other.read((tx) => tx.findSettlement('T-0001', 'frozen-1'))).toBeUndefined();
      expect((await other.read((tx) => tx.findCardById('card-alice')))!.pinTries).toBe(1);
      // The stopped node's pool connects again and commits.
      await frozen.commit((tx) => tx.insertSettlement(settlement('frozen-1')));
      expect(await other.read((tx) => tx.findSettlement('T-0001', 'frozen-1'))).toMatchObject({
        amountMinor: 100,
      });

      // The control: with the bound switched off by the URL, the other node still waits after 3 s.
      const unbounded = await PostgresBackendStore.open(`${url}?idle_in_transaction_session_timeout=0`, {
        migrate: false,
      });
      let locked2!: () => void;
      const holding2 = new Promise<void>((r) => (locked2 = r));
      let resume2!: () => void;
      const resumed2 = new Promise<void>((r) => (resume2 = r));
      const held = unbounded.commit(async (tx) => {
        await tx.findCardById('card-alice');
        locked2();
        await resumed2;
      });
      await holding2;
      let otherDone = false;
      const waiting = other
        .commit(async (tx) => {
          await tx.findCardById('card-alice');
        })
        .then(() => (otherDone = true));
      await new Promise((r) => setTimeout(r, 3_000));
      expect(otherDone).toBe(false);
      const blocked = await admin`SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      expect(blocked[0]!.n).toBe(1);
      resume2();
      await held;
      await waiting;
      expect(otherDone).toBe(true);
      await unbounded.close();
    } finally {
      await admin.end();
      await other.close();
      await frozen.close();
    }
  });

  it('answers a read it cannot make (the database gone) with CommitError store_unavailable; any other failure of a read stays as it is', async () => {
    const own = await startPostgresServer();
    const url = await own.createDatabase('reads');
    const store = await PostgresBackendStore.open(url, { connectTimeoutSeconds: 2 });
    try {
      await copyRegistryToPostgres(seedDb, store.sql);
      expect(await store.read((tx) => tx.findSettlement('T-0001', 'r-1'))).toBeUndefined();
      // The server goes (a failover, a crash): the pool's connections close, nothing answers.
      await own.stop();
      const err = await store
        .read((tx) => tx.findSettlement('T-0001', 'r-1'))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(CommitError);
      expect(err).toMatchObject({ code: 'store_unavailable' });
      // Any other failure of a read is not dressed up: a bug stays a bug.
      await expect(
        store.read(async () => {
          throw new TypeError('a bug');
        }),
      ).rejects.toThrow(TypeError);
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it("runs under the servers' DML-only role (migrated by the owner; opening checks the schema, or skips it with migrate: false): a sale commits, and the database's guards bind it", async () => {
    const owner = await demoStore();
    const database = await owner.sql`SELECT current_database() AS db`.then((r) => String(r[0]!.db));
    await owner.sql.unsafe(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bluetill_app') THEN CREATE ROLE bluetill_app LOGIN; END IF;
      END $$;
      GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO bluetill_app;
      GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO bluetill_app;`);
    await owner.close();
    const appUrl = `postgresql://bluetill_app@127.0.0.1:${server.port}/${database}`;
    // Opening with migrations under this role only checks an up-to-date schema (it creates nothing).
    await (await PostgresBackendStore.open(appUrl)).close();
    const app = await PostgresBackendStore.open(appUrl, { migrate: false });
    try {
      const answer = await app.commit(async (tx) => {
        const card = (await tx.findCardById('card-alice'))!;
        const batchId = (await tx.openBatch('T-0001', NOW)).id;
        const id = await tx.insertSettlement({
          ...settlement('role-1', 2_50),
          approved: true,
          declineReason: null,
          batchId,
        });
        await tx.insertPostings(
          id,
          [
            { accountId: card.accountId, amountMinor: -2_50, currency: 'EUR' },
            { accountId: 'acct-M-0001', amountMinor: 2_50, currency: 'EUR' },
          ],
          NOW,
          { batchId, adjustmentId: null },
        );
        await tx.setLastAtc(card.id, 7);
        return id;
      });
      expect(await app.read((tx) => tx.accountBalance('acct-M-0001'))).toBe(2_50);
      // A Settle's one-statement write (settle_record) runs under this role too.
      const { batchId: _batch, ...declined } = settlement('role-2');
      const [alice] = await app.sql`SELECT pan_hash FROM cards WHERE id = 'card-alice'`;
      expect(
        await app.settleOnce(
          {
            terminalId: 'T-0001',
            terminalTxnId: 'role-2',
            panHash: String(alice!.pan_hash),
            authorizationRef: 'A-none',
            atc: -1,
          },
          () => ({ answer: 'declined', writes: { settlement: declined, postings: [] } }),
        ),
      ).toEqual({ answer: 'declined' });
      expect(await app.read((tx) => tx.findSettlement('T-0001', 'role-1'))).toMatchObject({ id: answer });
      // The ATC guard binds this role: a direct write moving it back is refused by the database.
      await expect(app.sql`UPDATE cards SET last_atc = 3 WHERE id = 'card-alice'`).rejects.toMatchObject({
        code: '23514',
        constraint_name: 'cards_atc_forward',
      });
    } finally {
      await app.close();
    }
  });

  it('settleOnce decides on facts read without locks and writes only what still holds: a card changed meanwhile is decided again, an id taken meanwhile answers with the winner, a card that keeps changing goes back to commit()', async () => {
    const store = await demoStore({ attempts: 2 });
    const once = await demoStore({ attempts: 1 });
    /** Another node's transaction on `on`: its change made (its locks taken), committed on release. */
    const hold = async (on: PostgresBackendStore, change: string) => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let ready!: () => void;
      const changed = new Promise<void>((r) => (ready = r));
      const done = on.sql.begin(async (t) => {
        await t.unsafe(change);
        ready();
        await gate;
      });
      await changed;
      return async () => {
        release();
        await done;
      };
    };
    /** Until a session of `on`'s database waits for a lock (the settlement's write, behind the holder). */
    const blocked = async (on: PostgresBackendStore) => {
      for (let i = 0; i < 300; i++) {
        const [row] = await on.sql`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`;
        if (row!.n > 0) return;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error('the settlement never waited for the lock');
    };
    const bumpPinTries = "UPDATE cards SET pin_tries = pin_tries + 1 WHERE id = 'card-alice'";
    try {
      const [card] = await store.sql`SELECT pan_hash, pin_tries FROM cards WHERE id = 'card-alice'`;
      const q = (terminalTxnId: string) => ({
        terminalId: 'T-0001',
        terminalTxnId,
        panHash: String(card!.pan_hash),
        authorizationRef: 'A-none',
        atc: -1,
      });
      const seen: SettleFacts[] = [];
      const decideFor =
        (txn: string) =>
        (f: SettleFacts): SettleDecision<string> => {
          seen.push(f);
          if (f.prior) return { answer: 'replayed' };
          const { batchId: _batch, ...row } = settlement(txn);
          return { answer: `pin tries ${f.card!.pinTries}`, writes: { settlement: row, postings: [] } };
        };
      const tries = Number(card!.pin_tries);
      // The card changes while the first decision is on its way: decided again on the new row.
      let release = await hold(store, bumpPinTries);
      let settling = store.settleOnce(q('o-1'), decideFor('o-1'));
      await blocked(store);
      await release();
      expect(await settling).toEqual({ answer: `pin tries ${tries + 1}` });
      expect(seen.map((f) => f.card!.pinTries)).toEqual([tries, tries + 1]);
      // A Settle checks no PIN: its facts carry the card without the PIN's salt and verifier.
      expect(seen[0]!.card).toMatchObject({ id: 'card-alice', status: 'active' });
      expect(Object.keys(seen[0]!.card!)).not.toContain('pinVerifier');
      expect(Object.keys(seen[0]!.card!)).not.toContain('pinSalt');
      expect(store.commitStats).toMatchObject({ commits: 1, staleRetries: 1, contended: 0 });
      // Another node takes the id first: the write finds it taken, and the answer is the stored one.
      release = await hold(
        store,
        `INSERT INTO settlements (terminal_id, terminal_txn_id, request_hash, approved, decline_reason, amount_minor,
           currency, card_id, merchant_id, response, created_at)
         VALUES ('T-0001', 'o-2', '\\x010203', false, 'insufficient_funds', 100, 'EUR', NULL, 'M-0001', '\\x00', 1)`,
      );
      settling = store.settleOnce(q('o-2'), decideFor('o-2'));
      await blocked(store);
      await release();
      expect(await settling).toEqual({ answer: 'replayed' });
      expect(seen.slice(2).map((f) => f.prior !== undefined)).toEqual([false, true]);
      // With one attempt, a card that changed is handed back (undefined), nothing written.
      release = await hold(once, bumpPinTries);
      settling = once.settleOnce(q('o-3'), decideFor('o-3'));
      await blocked(once);
      await release();
      expect(await settling).toBeUndefined();
      expect(once.commitStats).toMatchObject({ commits: 0, contended: 1 });
      expect(await once.read((tx) => tx.findSettlement('T-0001', 'o-3'))).toBeUndefined();
    } finally {
      await Promise.all([store.close(), once.close()]);
    }
  });

  it('settleOnce sends the writes decided meanwhile as one statement; one item another invariant refuses fails alone', async () => {
    const store = await demoStore();
    try {
      const q = (terminalTxnId: string) => ({
        terminalId: 'T-0001',
        terminalTxnId,
        panHash: 'no-such-card',
        authorizationRef: 'A-none',
        atc: -1,
      });
      const sale = (txn: string, account = 'acct-M-0001') => {
        const { batchId: _batch, ...row } = settlement(txn);
        return store.settleOnce(q(txn), () => ({
          answer: txn,
          writes: {
            settlement: { ...row, cardId: null, approved: true, declineReason: null },
            postings: [
              { accountId: 'acct-M-0001', amountMinor: -100, currency: 'EUR' },
              { accountId: account, amountMinor: 100, currency: 'EUR' },
            ],
          },
        }));
      };
      // 24 at once: the first goes alone, the others are decided while it runs and go together.
      const first = Array.from({ length: 24 }, (_, i) => `g-${i}`);
      expect(await Promise.all(first.map((txn) => sale(txn)))).toEqual(first.map((answer) => ({ answer })));
      expect(store.commitStats.settleGroups).toBeLessThan(first.length / 2);
      // 8 at once, one of them refused by a foreign key (no such account): that one alone fails.
      const next = Array.from({ length: 8 }, (_, i) => `h-${i}`);
      const results = await Promise.allSettled(
        next.map((txn, i) => sale(txn, i === 5 ? 'acct-nobody' : undefined)),
      );
      expect(results.map((r) => r.status)).toEqual(next.map((_, i) => (i === 5 ? 'rejected' : 'fulfilled')));
      expect(postgresErrorKind((results[5] as PromiseRejectedResult).reason)).toBe('invariant');
      const [row] =
        await store.sql`SELECT count(*)::int AS n FROM settlements WHERE terminal_txn_id ~ '^[gh]-'`;
      expect(row!.n).toBe(24 + 7);
      expect(await store.read((tx) => tx.ledgerSum())).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('closes after the commit in flight: one still waiting for a connection and any later one are CommitError store_closed', async () => {
    const url = await server.createDatabase(`store_${++databases}`);
    const store = await PostgresBackendStore.open(url, { max: 1 });
    await copyRegistryToPostgres(seedDb, store.sql);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const inFlight = store.commit(async (tx) => {
      await tx.insertChallenge('0c0c0c0c', 'T-0001', NOW + 60_000);
      entered();
      await held;
      return 'committed';
    });
    await inside;
    const waiting = store.commit((tx) => tx.insertChallenge('0d0d0d0d', 'T-0001', NOW + 60_000));
    const waitingOutcome = waiting.then(
      () => undefined,
      (err: unknown) => err,
    );
    const closing = store.close();
    release();
    expect(await inFlight).toBe('committed');
    expect(await waitingOutcome).toMatchObject({ name: 'CommitError', code: 'store_closed' });
    await closing;
    await expect(store.commit(async () => 1)).rejects.toMatchObject({ code: 'store_closed' });
    const check = connectPostgres(url, { max: 1 });
    expect((await check`SELECT un FROM challenges ORDER BY un`).map((r) => r.un)).toEqual(['0c0c0c0c']);
    await check.end();
  });
});

describe('PostgresBackendStore over a multi-host URL (target_session_attrs=read-write)', () => {
  let readOnly: PostgresServer;
  beforeAll(async () => {
    readOnly = await startPostgresServer();
  }, 60_000);
  afterAll(async () => readOnly?.stop());

  it('waits at open (waitForDatabaseMs) while no host takes writes, as during a promotion, and opens on the promoted one', async () => {
    const url = await server.createDatabase('promoted');
    const admin = connectPostgres(server.url, { max: 1 });
    try {
      // The only host reports itself read-only, as a standby does before its promotion.
      await admin.unsafe('ALTER DATABASE promoted SET default_transaction_read_only = on');
      const down = await freePort();
      const hosts = `${url.replace(/@127\.0\.0\.1:\d+\//, `@127.0.0.1:${down},127.0.0.1:${server.port}/`)}?target_session_attrs=read-write`;
      // Without a wait, the first failure is the answer: a lost connection.
      const refused = await PostgresBackendStore.open(hosts).then(
        () => 'opened',
        (err: unknown) => postgresErrorKind(err),
      );
      expect(refused).toBe('connection');
      const t0 = Date.now();
      const opening = PostgresBackendStore.open(hosts, { waitForDatabaseMs: 20_000 });
      await new Promise((r) => setTimeout(r, 1_500));
      await admin.unsafe('ALTER DATABASE promoted SET default_transaction_read_only = off');
      const store = await opening;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1_400);
      // Migrated on the writable host, and writing there.
      const [row] =
        await store.sql`INSERT INTO accounts (id, kind, currency) VALUES ('acct-w', 'merchant', 'EUR') RETURNING id`;
      expect(row!.id).toBe('acct-w');
      await store.close();
    } finally {
      await admin.end();
    }
  });

  it('skips a host that is down and a host whose sessions are read-only, and commits on the writable one', async () => {
    // First host: nobody listening; second: a server whose database is read-only (as a standby
    // reports itself); third: the writable one.
    const down = await freePort();
    await readOnly.createDatabase('multi');
    const ro = connectPostgres(readOnly.url, { max: 1 });
    await ro.unsafe('ALTER DATABASE multi SET default_transaction_read_only = on');
    await ro.end();
    const writableUrl = await server.createDatabase('multi');
    const hosts = `postgresql://bluetill@127.0.0.1:${down},127.0.0.1:${readOnly.port},127.0.0.1:${server.port}/multi`;
    // The control: without the attribute the driver stops at the first host that answers, the read-only one.
    await expect(PostgresBackendStore.open(hosts)).rejects.toMatchObject({ code: '25006' });
    const url = `${hosts}?target_session_attrs=read-write`;
    const store = await PostgresBackendStore.open(url);
    try {
      await copyRegistryToPostgres(seedDb, store.sql);
      await store.commit((tx) => tx.insertChallenge('0a0b0c0d', 'T-0001', NOW + 60_000));
      const writable = connectPostgres(writableUrl, { max: 1 });
      const onWritable = await writable`SELECT un FROM challenges`;
      await writable.end();
      expect(onWritable.map((r) => r.un)).toEqual(['0a0b0c0d']);
      const reader = connectPostgres(readOnly.url.replace(/\/postgres$/, '/multi'), { max: 1 });
      const migrated = await reader`SELECT to_regclass('challenges') AS t`;
      await reader.end();
      expect(migrated[0]!.t).toBeNull();
    } finally {
      await store.close();
    }
  });
});
