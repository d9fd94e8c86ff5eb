/**
 * The backend as a cluster on real parts (cluster-rig.ts): three `bluetill-backend serve`
 * processes over ONE PostgreSQL 15 database (`--store postgresql://…`), eight tills balancing every
 * call over the three nodes. While they pay, a node chosen at random (seeded) is kill -9'd and
 * started again, over and over. What must hold: every settlement a till was told succeeded is in
 * the ledger (`cluster_acknowledged_lost` 0), no basket is charged twice (`cluster_double_charges`
 * 0), every unknown outcome is resolved by asking (`cluster_unresolved` 0), and the ledger sums to
 * zero in each currency (`cluster_ledger_sum` 0). Prints {"bench":"faults_cluster", …} with
 * `cluster_payments` and `cluster_node_kills`. The fast slice runs ~25 s of load; `make soak`
 * (SOAK=1) runs until at least 500 payments and 10 kills.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

let pg: PostgresServer;
let url: string;
let rig: ClusterRig;

beforeAll(async () => {
  pg = await startPostgresServer();
  url = await pg.createDatabase('cluster');
  rig = await startClusterRig({ url, nodes: NODES, tills: TILLS });
}, 120_000);

afterAll(async () => {
  await rig?.close();
  await pg?.stop();
}, 60_000);

describe('a cluster of backend nodes over PostgreSQL, nodes killed under load', () => {
  it(
    'every acknowledged settlement is in the ledger once, no basket is charged twice, every unknown outcome is resolved',
    { timeout: timeout(180_000) },
    async () => {
      const random = prng(SEED);
      const stop = { now: false };
      const progress = { acknowledged: 0 };
      const started = Date.now();
      const loads = runTills(rig, TILLS, stop, progress);
      let kills = 0;
      const minPayments = SOAK ? 500 : 0;
      const minKills = SOAK ? 10 : 3;
      const fastMs = 25_000;
      const chaos = (async () => {
        await sleep(1_500);
        while (!stop.now) {
          const i = random.int(0, NODES - 1);
          await rig.killNode(i);
          kills++;
          await sleep(300 + random.next() * 900);
          await rig.startNode(i);
          await sleep(800 + random.next() * 1_500);
        }
      })();
      // Stop once the run is long enough (the soak: enough payments and kills).
      while (Date.now() - started < fastMs || kills < minKills || progress.acknowledged < minPayments)
        await sleep(250);
      stop.now = true;
      await chaos;
      const facts = await loads;
      const books = await checkBooks(url, facts);
      process.stdout.write(
        `${JSON.stringify({
          bench: 'faults_cluster',
          seed: SEED,
          nodes: NODES,
          tills: TILLS,
          seconds: Math.round((Date.now() - started) / 1000),
          cluster_payments: books.payments,
          cluster_node_kills: kills,
          cluster_double_charges: books.doubleCharges,
          cluster_acknowledged_lost: books.lost,
          cluster_unresolved: books.unresolved,
          cluster_ledger_sum: books.ledgerSum,
          asked: books.asked,
          failures: failuresIn(facts),
        })}\n`,
      );
      expect(invariants(books)).toEqual(KEPT);
      expect(kills).toBeGreaterThanOrEqual(minKills);
      expect(books.payments).toBeGreaterThanOrEqual(Math.max(1, minPayments));
    },
  );
});
