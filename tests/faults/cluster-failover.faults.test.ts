/**
 * The PostgreSQL primary lost under the tills' load (cluster-rig.ts): three `bluetill-backend
 * serve` processes over the project's pg_auto_failover cluster (scripts/pg-cluster.sh: a monitor, a
 * primary and a synchronous standby), reached by its multi-host URL with
 * `target_session_attrs=read-write`; eight tills balancing every call over the nodes. Mid-load the
 * primary's keeper and PostgreSQL are kill -9'd (the machine lost); the monitor promotes the
 * standby; the nodes' drivers find it through the same URL; the tills' unknown outcomes are
 * resolved by asking. Backend nodes are kill -9'd and restarted meanwhile, as in
 * cluster.faults.test.ts.
 *
 * What must hold, read on the NEW primary: every acknowledged settlement in the ledger once
 * (`cluster_acknowledged_lost` 0), no basket charged twice (`cluster_double_charges` 0), no outcome
 * left unknown (`cluster_unresolved` 0), the ledger at zero (`cluster_ledger_sum` 0), and the
 * failover seen (`cluster_failovers`: changes of primary observed at the monitor). Printed, not
 * asserted: how long the tills went without a payment, and the calls they saw fail (UNAVAILABLE,
 * no answer in time) in that window. Prints {"bench":"faults_cluster_failover", …}.
 * The fast slice: one failover. SOAK=1: at least 500 payments, 10 node kills and 2 failovers (the
 * killed primary rejoins as the standby, then the new primary is killed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startPostgresCluster,
  type ClusterNode,
  type PostgresCluster,
} from '../../backend/src/test-support/postgres-cluster';
import {
  KEPT,
  checkBooks,
  failuresIn,
  invariants,
  paidIn,
  runTills,
  sleep,
  startClusterRig,
  type ClusterRig,
} from './cluster-rig';
import { SEED, SOAK, prng, timeout } from './support';

const TILLS = 8;
const NODES = 3;

let cluster: PostgresCluster;
let rig: ClusterRig;

beforeAll(async () => {
  cluster = await startPostgresCluster();
  rig = await startClusterRig({ url: cluster.url, nodes: NODES, tills: TILLS });
}, 300_000);

afterAll(async () => {
  await rig?.close();
  await cluster?.destroy();
}, 120_000);

interface Failover {
  readonly from: ClusterNode['name'];
  readonly killedAt: number;
  /** When the monitor first named the other node primary. */
  promotedAt?: number;
  to?: ClusterNode['name'];
  /** The first payment acknowledged after the kill. */
  firstPaymentAt?: number;
}

describe('backend nodes over a pg_auto_failover cluster, the primary kill -9d under load', () => {
  it(
    'the standby is promoted, the nodes follow it, and the books on the new primary keep every invariant',
    { timeout: timeout(240_000) },
    async () => {
      const random = prng(SEED);
      const stop = { now: false };
      const progress = { acknowledged: 0 };
      const started = Date.now();
      const initial = await cluster.primary();
      expect(initial, 'a primary before the load').toBeDefined();

      const failovers: Failover[] = [];
      // The monitor's view, every 250 ms: each change of primary is one failover.
      let primary = initial!;
      let failoversSeen = 0;
      const watcher = (async () => {
        while (!stop.now) {
          const now = await cluster.primary().catch(() => undefined);
          if (now && now !== primary) {
            failoversSeen++;
            primary = now;
            const f = failovers.at(-1);
            if (f && !f.promotedAt) Object.assign(f, { promotedAt: Date.now(), to: now });
          }
          await sleep(250);
        }
      })();

      const loads = runTills(rig, TILLS, stop, progress);
      let kills = 0;
      const chaos = (async () => {
        await sleep(2_000);
        while (!stop.now) {
          const i = random.int(0, NODES - 1);
          await rig.killNode(i);
          kills++;
          await sleep(300 + random.next() * 900);
          await rig.startNode(i);
          await sleep(1_500 + random.next() * 2_500);
        }
      })();

      const wantFailovers = SOAK ? 2 : 1;
      const minPayments = SOAK ? 500 : 0;
      const minKills = SOAK ? 10 : 1;
      const fastMs = 20_000;
      const acknowledgedAt = () => progress.acknowledged;
      for (let n = 0; n < wantFailovers; n++) {
        // Load on the current primary first: payments committed there before it goes.
        const before = acknowledgedAt();
        while (acknowledgedAt() < before + 40) await sleep(100);
        if (n > 0) await cluster.restart(); // the killed one rejoins as the standby
        const from = (await cluster.primary())!;
        expect(from, 'a primary to kill').toBeDefined();
        const f: Failover = { from, killedAt: Date.now() };
        failovers.push(f);
        cluster.killNode(from);
        const atKill = acknowledgedAt();
        const deadline = Date.now() + 120_000;
        while (!(f.promotedAt && acknowledgedAt() >= atKill + 20) && Date.now() < deadline) await sleep(100);
        expect(f.promotedAt, `no promotion within 120 s of killing ${from}`).toBeDefined();
      }
      while (Date.now() - started < fastMs || kills < minKills || progress.acknowledged < minPayments)
        await sleep(250);
      stop.now = true;
      await chaos;
      const facts = await loads;
      await watcher;
      for (const f of failovers)
        f.firstPaymentAt = Math.min(
          ...facts.flatMap((t) => t.acknowledged.filter((a) => a.at > f.killedAt).map((a) => a.at)),
        );

      const newPrimary = (await cluster.primary())!;
      const books = await checkBooks(cluster.url, facts);
      const last = failovers.at(-1)!;
      const windows = failovers.map((f) => ({
        from: f.from,
        to: f.to,
        promotedAfterS: +((f.promotedAt! - f.killedAt) / 1000).toFixed(1),
        firstPaymentAfterS: +((f.firstPaymentAt! - f.killedAt) / 1000).toFixed(1),
        paymentsBeforePromotion: paidIn(facts, f.killedAt, f.promotedAt!),
        failedCallsInWindow: failuresIn(facts, f.killedAt, Math.max(f.firstPaymentAt!, f.promotedAt!)),
      }));
      process.stdout.write(
        `${JSON.stringify({
          bench: 'faults_cluster_failover',
          seed: SEED,
          nodes: NODES,
          tills: TILLS,
          seconds: Math.round((Date.now() - started) / 1000),
          cluster_payments: books.payments,
          cluster_node_kills: kills,
          cluster_failovers: failoversSeen,
          cluster_double_charges: books.doubleCharges,
          cluster_acknowledged_lost: books.lost,
          cluster_unresolved: books.unresolved,
          cluster_ledger_sum: books.ledgerSum,
          cluster_unavailable_in_failover: windows.reduce(
            (n, w) => n + (w.failedCallsInWindow['unavailable'] ?? 0),
            0,
          ),
          failovers: windows,
          asked: books.asked,
          failures: failuresIn(facts),
        })}\n`,
      );
      expect(invariants(books)).toEqual(KEPT);
      expect(failoversSeen).toBeGreaterThanOrEqual(wantFailovers);
      // The books were read on the promoted node, writable, through the same multi-host URL.
      expect(newPrimary).toBe(last.to);
      expect(books.server).toEqual({
        port: cluster.nodes.find((n) => n.name === newPrimary)!.port,
        recovery: false,
      });
      expect(kills).toBeGreaterThanOrEqual(minKills);
      expect(books.payments).toBeGreaterThanOrEqual(Math.max(1, minPayments));
      // Payments went on after the failover, on the promoted node.
      expect(paidIn(facts, last.promotedAt!, Date.now())).toBeGreaterThan(0);
    },
  );
});
