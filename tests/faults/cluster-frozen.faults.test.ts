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
 * {"bench":"faults_cluster_frozen", …}. SOAK=1: a freeze on each node in turn, 6 in all.
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
} from './cluster-rig';
import { SEED, SOAK, prng, timeout } from './support';

const TILLS = 8;
const NODES = 3;
const FREEZE_MS = 7_000;

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
  /** SIGSTOPs until one landed with a transaction open. */
  readonly tries: number;
  readonly at: number;
  readonly thawedAt: number;
  /** The stopped node's sessions idle in a transaction at the stop, and the others' sessions waiting on them (most seen). */
  readonly openTransactions: number;
  readonly blockedSessions: number;
  /** Milliseconds from the stop until the server had ended every open transaction of the node (undefined: not while stopped). */
  readonly releasedAfterMs: number | undefined;
}

describe('a backend node stopped (SIGSTOP) inside a transaction, over PostgreSQL', () => {
  it(
    'the server ends its open transaction after the bound, the tills pay on the other nodes meanwhile, and the books keep every invariant',
    { timeout: timeout(180_000) },
    async () => {
      const random = prng(SEED);
      const stop = { now: false };
      const progress = { acknowledged: 0 };
      const started = Date.now();
      const loads = runTills(rig, TILLS, stop, progress);
      const admin = postgres(url, { max: 1, onnotice: () => undefined });
      const freezes: Freeze[] = [];
      try {
        const openOf = async (pid: number) =>
          (
            await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE application_name = ${`bluetill-backend ${pid}`} AND state = 'idle in transaction'`
          )[0]!.n;
        const blockedBy = async (pid: number) =>
          (
            await admin<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity w
              WHERE EXISTS (SELECT 1 FROM pg_stat_activity h
                WHERE h.application_name = ${`bluetill-backend ${pid}`} AND h.pid = ANY (pg_blocking_pids(w.pid)))`
          )[0]!.n;
        const rounds = SOAK ? 6 : 1;
        for (let round = 0; round < rounds; round++) {
          await sleep(2_500);
          const i = SOAK ? round % NODES : random.int(0, NODES - 1);
          const node = rig.node(i)!;
          const pid = node.pid!;
          // Stop the node until a stop lands while it has a transaction open.
          let tries = 0;
          let open = 0;
          for (; tries < 80 && open === 0; ) {
            tries++;
            node.kill('SIGSTOP');
            await sleep(60);
            open = await openOf(pid);
            if (open === 0) {
              node.kill('SIGCONT');
              await sleep(100 + random.next() * 300);
            }
          }
          const at = Date.now();
          let blocked = 0;
          let releasedAfterMs: number | undefined;
          while (Date.now() - at < FREEZE_MS) {
            blocked = Math.max(blocked, await blockedBy(pid));
            if (releasedAfterMs === undefined && (await openOf(pid)) === 0) releasedAfterMs = Date.now() - at;
            await sleep(100);
          }
          node.kill('SIGCONT');
          freezes.push({
            node: i,
            tries,
            at,
            thawedAt: Date.now(),
            openTransactions: open,
            blockedSessions: blocked,
            releasedAfterMs,
          });
        }
        await sleep(3_000);
      } finally {
        stop.now = true;
        await admin.end({ timeout: 5 });
      }
      const facts = await loads;
      const books = await checkBooks(url, facts);
      // A till's payments while the node was stopped, after the bound had ended its transactions.
      const afterBound = (f: Freeze, t: (typeof facts)[number]) =>
        t.acknowledged.filter((a) => a.at >= f.at + IDLE_IN_TRANSACTION_TIMEOUT_MS + 1_000 && a.at <= f.thawedAt)
          .length;
      const figures = {
        bench: 'faults_cluster_frozen',
        seed: SEED,
        nodes: NODES,
        tills: TILLS,
        freezeMs: FREEZE_MS,
        idleInTransactionTimeoutMs: IDLE_IN_TRANSACTION_TIMEOUT_MS,
        seconds: Math.round((Date.now() - started) / 1000),
        cluster_payments: books.payments,
        cluster_frozen_node_payments: freezes.map((f) =>
          facts.reduce((n, t) => n + t.acknowledged.filter((a) => a.at >= f.at && a.at <= f.thawedAt).length, 0),
        ),
        cluster_frozen_each_till_paid: freezes.map((f) => facts.map((t) => afterBound(f, t))),
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
      };
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      expect(invariants(books)).toEqual(KEPT);
      for (const f of freezes) {
        // The stop landed inside a transaction, and the server ended it while the node was still stopped.
        expect(f.openTransactions, `node ${f.node}: no stop inside a transaction in ${f.tries} tries`).toBeGreaterThan(0);
        expect(f.releasedAfterMs, 'the stopped node still held its transaction at SIGCONT').toBeDefined();
        expect(f.releasedAfterMs!).toBeLessThanOrEqual(IDLE_IN_TRANSACTION_TIMEOUT_MS + 1_500);
        // Every till paid on the other nodes while this one was stopped.
        for (const t of facts) expect(afterBound(f, t), `${t.terminalId} paid nothing while node ${f.node} was stopped`).toBeGreaterThan(0);
      }
    },
  );
});
