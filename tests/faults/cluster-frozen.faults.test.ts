/**
 * A frozen backend node over PostgreSQL (cluster-rig.ts): three `bluetill-backend serve` processes
 * over one PostgreSQL 15 database, eight tills balancing every call over them. Mid-load one node
 * is SIGSTOPped at a moment it has a transaction open (its session `idle in transaction` in
 * pg_stat_activity, found by the node's session name `bluetill-backend <pid>`): it holds its tills'
 * connections, its PostgreSQL sessions and that transaction's row locks (a card, a challenge, a
 * settlement key). It stays stopped for FREEZE_MS, then SIGCONT.
 *
 * What must hold: the server ends the stopped node's open transactions after the store's bound
 * (`idle_in_transaction_session_timeout`, 2 s) while the node is still stopped, so no other node
 * waits on its locks past it; every till pays on the other nodes within its deadlines during the
 * freeze (each till at least once after the bound has passed); and after it, the books keep every
 * invariant (nothing lost, nothing charged twice, nothing unresolved, the ledger at zero). Prints
 * {"bench":"faults_cluster_frozen", …}. SOAK=1: 6 freezes, each node in turn where it holds transactions.
 *
 * The control: the same nodes with the bound switched off (`?idle_in_transaction_session_timeout=0`
 * on the store URL): the stopped node's transaction stays open for the whole freeze. Line
 * `faults_cluster_frozen_unbounded` (the payments and the sessions waiting on it meanwhile).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { IDLE_IN_TRANSACTION_TIMEOUT_MS } from '../../backend/src/adapters/postgres/backend-store.postgres';
import { startPostgresServer, type PostgresServer } from '../../backend/src/test-support/postgres-server';
import {
  KEPT,
  checkBooks,
  failuresIn,
  invariants,
  runTills,
  sleep,
  startClusterRig,
  type ClusterRig,
  type TillFacts,
} from './cluster-rig';
import { SEED, SOAK, prng, timeout } from './support';

const TILLS = 8;
const NODES = 3;
const FREEZE_MS = 10_000;

let pg: PostgresServer;
let url: string;
let rig: ClusterRig;

beforeAll(async () => {
  pg = await startPostgresServer();
  url = await pg.createDatabase('frozen');
  rig = await startClusterRig({ url, nodes: NODES, tills: TILLS });
}, 120_000);

afterAll(async () => {
  await rig?.close();
  await pg?.stop();
}, 60_000);

interface Freeze {
  readonly node: number;
  /** SIGSTOPs until one landed with a transaction open (each sent when a session of the node was idle in one). */
  readonly tries: number;
  readonly at: number;
  readonly thawedAt: number;
  /** The stopped node's sessions idle in a transaction at the stop. */
  readonly openTransactions: number;
  /** Other sessions waiting on the stopped node's (most seen at once), and what they waited for. */
  readonly blockedSessions: number;
  readonly blockedOn: string[];
  /** Milliseconds from the stop until the server had ended every open transaction of the node (undefined: not while stopped). */
  readonly releasedAfterMs: number | undefined;
}

/**
 * SIGSTOPs a node when it has a transaction open (at most 60 s of looking): node `prefer` when it
 * is seen with one, else the first node seen with one. Not every node holds transactions: a till
 * balances call by call, so with three calls to a payment (Challenge, Authorize, Settle) over three
 * nodes each of its calls tends to go to the same node every payment, and a node that serves only
 * Settles (two single statements) never has a transaction open between statements. Keeps the node
 * stopped `ms`, then SIGCONT.
 */
async function freeze(prefer: number, ms: number, random: ReturnType<typeof prng>): Promise<Freeze> {
  const admin = postgres(url, { max: 1, onnotice: () => undefined });
  const names = Array.from({ length: NODES }, (_, k) => `bluetill-backend ${rig.node(k)!.pid!}`);
  let i = prefer;
  let node = rig.node(i)!;
  let name = names[i]!;
  try {
    const openNow = async () =>
      (
        await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE application_name = ${name} AND state = 'idle in transaction'`
      )[0]!.n;
    /** The nodes with a session idle inside a transaction block now. */
    const openNodes = async () =>
      (
        await admin<{ name: string }[]>`SELECT DISTINCT application_name AS name FROM pg_stat_activity
          WHERE application_name = ANY (${names}) AND state = 'idle in transaction'`
      ).map((r) => names.indexOf(r.name));
    const waiting = () => admin<{ on: string }[]>`
      SELECT COALESCE(l.relation::regclass::text, l.locktype) AS on FROM pg_locks l
        JOIN pg_stat_activity w ON w.pid = l.pid
       WHERE NOT l.granted AND EXISTS (SELECT 1 FROM pg_stat_activity h
         WHERE h.application_name = ${name} AND h.pid = ANY (pg_blocking_pids(w.pid)))`;
    // A node's transactions are short (a Challenge or an Authorize: a few statements), so a stop
    // at a random moment often lands between them. Watch the nodes' sessions instead, and stop a
    // node the moment one of them is idle inside a transaction block (the node computing its next
    // statement): the stop holds it there when it lands before the node sends that statement.
    // Bounded by time, not by luck.
    let tries = 0;
    let open = 0;
    const searching = Date.now();
    while (open === 0 && Date.now() - searching < 60_000) {
      const seen = await openNodes();
      if (seen.length === 0) continue;
      i = seen.includes(prefer) ? prefer : seen[0]!;
      node = rig.node(i)!;
      name = names[i]!;
      tries++;
      node.kill('SIGSTOP');
      await sleep(60);
      open = await openNow();
      if (open === 0) {
        node.kill('SIGCONT');
        await sleep(random.next() * 50);
      }
    }
    const at = Date.now();
    let blocked = 0;
    const blockedOn = new Set<string>();
    let releasedAfterMs: number | undefined;
    while (Date.now() - at < ms) {
      const w = await waiting();
      blocked = Math.max(blocked, w.length);
      for (const x of w) blockedOn.add(x.on);
      if (releasedAfterMs === undefined && (await openNow()) === 0) releasedAfterMs = Date.now() - at;
      await sleep(100);
    }
    node.kill('SIGCONT');
    return {
      node: i,
      tries,
      at,
      thawedAt: Date.now(),
      openTransactions: open,
      blockedSessions: blocked,
      blockedOn: [...blockedOn].sort(),
      releasedAfterMs,
    };
  } finally {
    node.kill('SIGCONT');
    await admin.end({ timeout: 5 });
  }
}

/** Payments acknowledged while node f.node was stopped, from `from` ms after the stop. */
const paidWhileStopped = (f: Freeze, t: TillFacts, from = 0) =>
  t.acknowledged.filter((a) => a.at >= f.at + from && a.at <= f.thawedAt).length;

describe('a backend node stopped (SIGSTOP) inside a transaction, over PostgreSQL', () => {
  it(
    'the server ends its open transaction after the bound, the tills pay on the other nodes meanwhile, and the books keep every invariant',
    { timeout: timeout(180_000) },
    async () => {
      const random = prng(SEED);
      const stop = { now: false };
      const started = Date.now();
      const loads = runTills(rig, TILLS, stop, { acknowledged: 0 });
      const freezes: Freeze[] = [];
      try {
        for (let round = 0; round < (SOAK ? 6 : 1); round++) {
          await sleep(2_500);
          freezes.push(await freeze(SOAK ? round % NODES : random.int(0, NODES - 1), FREEZE_MS, random));
        }
        await sleep(3_000);
      } finally {
        stop.now = true;
      }
      const facts = await loads;
      const books = await checkBooks(url, facts);
      const bound = IDLE_IN_TRANSACTION_TIMEOUT_MS + 1_000;
      process.stdout.write(
        `${JSON.stringify({
          bench: 'faults_cluster_frozen',
          seed: SEED,
          nodes: NODES,
          tills: TILLS,
          freezeMs: FREEZE_MS,
          idleInTransactionTimeoutMs: IDLE_IN_TRANSACTION_TIMEOUT_MS,
          seconds: Math.round((Date.now() - started) / 1000),
          cluster_payments: books.payments,
          cluster_frozen_node_payments: freezes.map((f) =>
            facts.reduce((n, t) => n + paidWhileStopped(f, t), 0),
          ),
          cluster_frozen_each_till_paid: freezes.map((f) => facts.map((t) => paidWhileStopped(f, t, bound))),
          firstPaymentAfterStopMs: freezes.map((f) =>
            facts.map((t) => (t.acknowledged.find((a) => a.at >= f.at)?.at ?? NaN) - f.at),
          ),
          freezes: freezes.map(({ at, thawedAt, ...f }) => ({
            ...f,
            failedCallsWhileStopped: failuresIn(facts, at, thawedAt),
          })),
          cluster_double_charges: books.doubleCharges,
          cluster_acknowledged_lost: books.lost,
          cluster_unresolved: books.unresolved,
          cluster_ledger_sum: books.ledgerSum,
          asked: books.asked,
          failures: failuresIn(facts),
        })}\n`,
      );
      expect(invariants(books)).toEqual(KEPT);
      for (const f of freezes) {
        // The stop landed inside a transaction, and the server ended it while the node was still stopped.
        expect(
          f.openTransactions,
          `node ${f.node}: no stop inside a transaction in 60 s (${f.tries} stops)`,
        ).toBeGreaterThan(0);
        expect(f.releasedAfterMs, 'the stopped node still held its transaction at SIGCONT').toBeDefined();
        expect(f.releasedAfterMs!).toBeLessThanOrEqual(IDLE_IN_TRANSACTION_TIMEOUT_MS + 1_500);
        // Every till paid on the other nodes while this one was stopped, once the bound had passed.
        for (const t of facts)
          expect(
            paidWhileStopped(f, t, bound),
            `${t.terminalId} paid nothing while node ${f.node} was stopped`,
          ).toBeGreaterThan(0);
      }
    },
  );

  it(
    'the control: with the bound switched off on the URL, the stopped node holds its transaction for the whole freeze',
    { timeout: timeout(120_000) },
    async () => {
      const unbounded = `${url}?idle_in_transaction_session_timeout=0`;
      for (let i = 0; i < NODES; i++) {
        await rig.killNode(i);
        await rig.startNode(i, unbounded);
      }
      const random = prng(SEED + 1);
      const stop = { now: false };
      const loads = runTills(rig, TILLS, stop, { acknowledged: 0 }, 'u');
      let f: Freeze;
      try {
        await sleep(2_500);
        f = await freeze(random.int(0, NODES - 1), 5_000, random);
        await sleep(2_000);
      } finally {
        stop.now = true;
      }
      const facts = await loads;
      const books = await checkBooks(url, facts);
      const { at, thawedAt, ...shown } = f;
      process.stdout.write(
        `${JSON.stringify({
          bench: 'faults_cluster_frozen_unbounded',
          seed: SEED,
          freezeMs: 5_000,
          ...shown,
          paymentsWhileStopped: facts.reduce((n, t) => n + paidWhileStopped(f, t), 0),
          failedCallsWhileStopped: failuresIn(facts, at, thawedAt),
          cluster_acknowledged_lost: books.lost,
          cluster_double_charges: books.doubleCharges,
        })}\n`,
      );
      expect(f.openTransactions).toBeGreaterThan(0);
      expect(f.releasedAfterMs).toBeUndefined();
      expect(invariants(books)).toEqual(KEPT);
    },
  );
});
