/**
 * The backend as a cluster on real parts: three `bluetill-backend serve` processes over ONE
 * PostgreSQL 15 database (`--store postgresql://…`), eight tills' gRPC clients (mutual TLS, each
 * with its own terminal certificate) balancing every call over the three nodes, paying in a loop
 * with real card cryptography (DDA over the UN, the sealed PIN, the ARQC over the amount). While
 * they pay, a node chosen at random (seeded) is kill -9'd and started again, over and over.
 *
 * A till does what the till core does with an outcome it does not know: it asks (GetSettlement),
 * and when the card company has nothing it cancels the payment (a signed cancellation; the
 * cryptogram can never settle later) and pays the basket again under a new id. What must hold:
 * every settlement a till was told succeeded is in the ledger (`cluster_acknowledged_lost` 0), no
 * basket is charged twice (`cluster_double_charges` 0), every unknown outcome is resolved by asking
 * (`cluster_unresolved` 0), and the ledger sums to zero in each currency (`cluster_ledger_sum` 0).
 * Prints {"bench":"faults_cluster", …} with `cluster_payments` and `cluster_node_kills`.
 * The fast slice runs ~25 s of load; `make soak` (SOAK=1) runs until at least 500 payments and 10 kills.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import {
  pinSealContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
  type Item,
  type SettleResponse,
} from '@bluetill/protocol';
import { MasterKey, fleetCards, readTerminalTls, seedDemo, type SeededBackend } from '@bluetill/backend';
import { BackendError, GrpcBackendClient } from '@bluetill/pos-terminal';
import { parseStoreSpec } from '../../backend/src/adapters/store-spec';
import { startPostgresServer, type PostgresServer } from '../../backend/src/test-support/postgres-server';
import { TestCard } from '../../backend/src/test-support/test-card';
import { SEED, SOAK, timeout } from './support';

const CLI = resolve(import.meta.dirname, '../../backend/bin/bluetill-backend.mjs');
const TILLS = 8;
const NODES = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: the run's choices of node and timing, from the printed seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let pg: PostgresServer;
let url: string;
let dir: string;
let seed: SeededBackend;
const masterKey = MasterKey.generate();
const ports: number[] = Array.from({ length: NODES }, () => 0);
const nodes: Array<ChildProcess | undefined> = Array.from({ length: NODES }, () => undefined);

/** Starts node i on its port (0 the first time: any free one, kept afterwards). */
async function startNode(i: number): Promise<void> {
  const c = spawn(
    process.execPath,
    [CLI, 'serve', '--dir', dir, '--store', url, '--port', String(ports[i]), '--shopper-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BLUETILL_MASTER_KEY: masterKey.toBase64() } },
  );
  nodes[i] = c;
  let err = '';
  c.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  ports[i] = await new Promise<number>((ok, fail) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^\s:]+:(\d+)/.exec(out);
      if (m) ok(Number(m[1]));
    });
    c.once('exit', (code, signal) => fail(new Error(`node ${i} exited (${code ?? signal}): ${err}`)));
  });
}

async function killNode(i: number): Promise<void> {
  const c = nodes[i];
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((ok) => c.once('exit', ok));
  c.kill('SIGKILL');
  await gone;
  nodes[i] = undefined;
}

beforeAll(async () => {
  pg = await startPostgresServer();
  url = await pg.createDatabase('cluster');
  dir = mkdtempSync(join(tmpdir(), 'bluetill-cluster-'));
  const terminals = Array.from({ length: TILLS }, (_, i) => `T-${String(i + 1).padStart(4, '0')}`).slice(1);
  seed = await seedDemo(dir, terminals, fleetCards(TILLS), { masterKey, store: parseStoreSpec(url) });
  // One after the other the first time: the first migrates the new database.
  for (let i = 0; i < NODES; i++) await startNode(i);
}, 120_000);

afterAll(async () => {
  for (let i = 0; i < NODES; i++) await killNode(i);
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

interface TillFacts {
  /** Settlements the till was told were approved (terminal/txn). */
  readonly acknowledged: string[];
  /** Baskets paid (each must be charged once). */
  baskets: number;
  /** Outcomes the till did not know and asked about; those still unknown after asking. */
  asked: number;
  unresolved: number;
  errors: number;
}

/** Settlements acknowledged so far, across the tills (the soak runs until there are enough). */
const progress = { acknowledged: 0 };

/** One till paying basket after basket with its own card until `stop.now`. */
async function till(index: number, stop: { now: boolean }): Promise<TillFacts> {
  const terminalId = `T-${String(index + 1).padStart(4, '0')}`;
  const card = TestCard.fromFile(
    join(seed.cardsDir, `card-fleet-${String(index + 1).padStart(3, '0')}.json`),
  );
  const pin = String(1001 + index);
  const client = new GrpcBackendClient({
    authorizationAddress: ports.map((p) => `localhost:${p}`),
    terminalId,
    tls: readTerminalTls(seed.tlsDir, terminalId),
    deadlineMs: 2_000,
    attempts: 3,
    backoffMs: 100,
    log: { warn: () => undefined, info: () => undefined },
  });
  const root = publicKeyFromRaw(Buffer.from(seed.trust.cardCompanyRoot, 'base64'));
  const facts: TillFacts = { acknowledged: [], baskets: 0, asked: 0, unresolved: 0, errors: 0 };
  try {
    for (let basket = 0; !stop.now; basket++) {
      const minor = 100 + ((basket * 37 + index) % 400);
      const items: Item[] = [{ sku: `b${basket}`, name: 'Goods', quantity: 1, unitPriceMinor: minor }];
      const amount = { minor, currency: 'EUR' };
      for (let attempt = 0; !stop.now; attempt++) {
        const txn = `${terminalId}-${basket}-${attempt}`;
        let outcome: SettleResponse | null | 'unknown';
        let request: Parameters<GrpcBackendClient['settle']>[0] | undefined;
        try {
          const ch = await client.challenge();
          const un = ch.unpredictableNumber;
          const pinKey = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
          const auth = await client.authorize({
            terminalId,
            unpredictableNumber: un,
            sealedPinBlock: sealPin({
              pin,
              pan: card.p.pan,
              pinKey: pinKey.publicKey,
              pinKeyId: pinKey.subjectId,
              context: pinSealContext(un, terminalId),
            }),
            card: card.cardData(un),
          });
          if (!auth.approved) throw new Error(`authorization declined: ${auth.declineReason}`);
          request = {
            terminalId,
            terminalTxnId: txn,
            merchantId: 'M-0001',
            authorizationRef: auth.authorizationRef,
            card: card.cardData(un),
            amount,
            items,
            cryptogram: card.arqc(amount, un),
          };
        } catch (e) {
          // Nothing of this payment can settle yet (no Settle was sent): the basket is tried again.
          if (!(e instanceof BackendError)) throw e;
          facts.errors++;
          continue;
        }
        try {
          outcome = await client.settle(request);
        } catch (e) {
          if (!(e instanceof BackendError)) throw e;
          outcome = 'unknown';
        }
        if (outcome === 'unknown') {
          // The till's rule: ask; if the card company has nothing, cancel it for good, then pay again.
          facts.asked++;
          outcome = await resolveByAsking(client, request);
          if (outcome === 'unknown') {
            facts.unresolved++;
            break;
          }
        }
        if (outcome?.approved) {
          facts.acknowledged.push(`${terminalId}/${txn}`);
          facts.baskets++;
          progress.acknowledged++;
          break;
        }
        if (outcome && !outcome.approved && outcome.declineReason !== 'cancelled')
          throw new Error(`${txn} declined: ${outcome.declineReason}`);
      }
    }
  } finally {
    client.close();
  }
  return facts;
}

/** GetSettlement until a node answers; NOT_FOUND → a signed cancellation (the stored answer wins a race). */
async function resolveByAsking(
  client: GrpcBackendClient,
  request: Parameters<GrpcBackendClient['settle']>[0],
): Promise<SettleResponse | null | 'unknown'> {
  for (let i = 0; i < 40; i++) {
    try {
      const found = await client.getSettlement(request.terminalTxnId);
      if (found) return found;
      const cancelled = await client.cancel({ ...request, reason: 'cancelled' });
      return cancelled;
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
      await sleep(250);
    }
  }
  return 'unknown';
}

describe('a cluster of backend nodes over PostgreSQL, nodes killed under load', () => {
  it(
    'every acknowledged settlement is in the ledger once, no basket is charged twice, every unknown outcome is resolved',
    { timeout: timeout(180_000) },
    async () => {
      const random = rng(SEED);
      const stop = { now: false };
      const started = Date.now();
      const loads = Array.from({ length: TILLS }, (_, i) => till(i, stop));
      let kills = 0;
      const minPayments = SOAK ? 500 : 0;
      const minKills = SOAK ? 10 : 3;
      const fastMs = 25_000;
      const chaos = (async () => {
        await sleep(1_500);
        while (!stop.now) {
          const i = Math.floor(random() * NODES);
          await killNode(i);
          kills++;
          await sleep(300 + random() * 900);
          await startNode(i);
          await sleep(800 + random() * 1_500);
        }
      })();
      // Stop once the run is long enough (the soak: enough payments and kills).
      while (Date.now() - started < fastMs || kills < minKills || progress.acknowledged < minPayments)
        await sleep(250);
      stop.now = true;
      await chaos;
      const facts = await Promise.all(loads);
      const acknowledged = facts.flatMap((f) => f.acknowledged);
      expect(acknowledged.length).toBeGreaterThanOrEqual(minPayments);

      const sql = postgres(url, { max: 1, onnotice: () => undefined });
      try {
        const rows = await sql<{ key: string; approved: boolean }[]>`
          SELECT terminal_id || '/' || terminal_txn_id AS key, approved FROM settlements`;
        const approved = new Map<string, number>();
        for (const r of rows) if (r.approved) approved.set(r.key, (approved.get(r.key) ?? 0) + 1);
        const lost = acknowledged.filter((k) => approved.get(k) !== 1).length;
        // A basket charged twice: two approved settlements of one till's basket (its id's prefix).
        const perBasket = new Map<string, number>();
        for (const key of approved.keys()) {
          const basket = key.replace(/-\d+$/, '');
          perBasket.set(basket, (perBasket.get(basket) ?? 0) + 1);
        }
        const doubleCharges = [...perBasket.values()].filter((n) => n > 1).length;
        const sums = await sql<{ currency: string; s: string }[]>`
          SELECT currency, SUM(amount_minor)::text AS s FROM postings GROUP BY currency`;
        const ledgerSum = sums.reduce((a, r) => a + Math.abs(Number(r.s)), 0);
        const unresolved = facts.reduce((a, f) => a + f.unresolved, 0);
        process.stdout.write(
          `${JSON.stringify({
            bench: 'faults_cluster',
            seed: SEED,
            nodes: NODES,
            tills: TILLS,
            seconds: Math.round((Date.now() - started) / 1000),
            cluster_payments: acknowledged.length,
            cluster_node_kills: kills,
            cluster_double_charges: doubleCharges,
            cluster_acknowledged_lost: lost,
            cluster_unresolved: unresolved,
            cluster_ledger_sum: ledgerSum,
            asked: facts.reduce((a, f) => a + f.asked, 0),
            retried_before_settle: facts.reduce((a, f) => a + f.errors, 0),
          })}\n`,
        );
        expect({ lost, doubleCharges, unresolved, ledgerSum }).toEqual({
          lost: 0,
          doubleCharges: 0,
          unresolved: 0,
          ledgerSum: 0,
        });
        expect(kills).toBeGreaterThanOrEqual(minKills);
        expect(acknowledged.length).toBeGreaterThan(0);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  );
});
