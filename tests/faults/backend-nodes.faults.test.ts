/**
 * Several backend nodes, on real parts: two `bluetill-backend serve` processes over ONE SQLite
 * file (WAL, the store's busy timeout), tills whose gRPC client balances every call over both
 * (mutual TLS), phones paying at them in a loop. What must hold:
 *  (a) a node kill -9'd, and a node SIGSTOPped, mid-load: the tills keep taking payments on the
 *      other node within their deadlines; no payment is reported declined;
 *  (b) a rolling restart (SIGTERM each node in turn, start it again) under load loses nothing:
 *      every payment approved, every settlement a till was told of in the ledger, none twice;
 *  (c) a drain: a call in flight at SIGTERM is answered, health reads NOT_SERVING for every
 *      service name while it drains, new calls are refused with the draining trailer (a till
 *      moves on to the other node), and the process exits 0; past --drain-timeout, or at a second
 *      SIGTERM, the calls in flight are cut and the process ends (SIGKILL, logged).
 * Each test prints a JSON figure line (payments, failures, latencies, calls per node).
 */
import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AuthorizationClient, DRAINING_TRAILER_KEY, health, type Item } from '@bluetill/protocol';
import { readTerminalTls } from '@bluetill/backend';
import { GrpcBackendClient } from '@bluetill/pos-terminal';
import { ledgerFacts, startRig, type Rig } from './rig';
import { timeout } from './support';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const goods = (minor: number, tag: string): Item[] => [
  { sku: `goods-${tag}`, name: 'Goods', quantity: 1, unitPriceMinor: minor },
];

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

interface Paid {
  readonly till: number;
  readonly kind: string;
  readonly at: number;
  readonly ms: number;
  readonly txn?: string;
}

/** Each till pays basket after basket with its own fleet card until `stop`; every phone's outcome is kept. */
function load(r: Rig, stop: { now: boolean }): { done: Promise<void>; paid: Paid[] } {
  const paid: Paid[] = [];
  const done = Promise.all(
    r.tills.map(async (t, i) => {
      const card = `card-fleet-${String(i + 1).padStart(3, '0')}`;
      const pin = String(1001 + i);
      for (let k = 0; !stop.now; k++) {
        const basketId = r.ringUp(i, goods(10 + ((k * 7) % 90), `${i}-${k}`));
        while (!stop.now && t.till.baskets.get(basketId)!.state !== 'paid') {
          const t0 = Date.now();
          const run = await r.phonePays(i, card, pin);
          const o = run.outcome;
          paid.push({
            till: i,
            kind: o.kind === 'failed' ? `failed:${o.code}:${o.charged}` : o.kind,
            at: t0,
            ms: Date.now() - t0,
            ...(o.kind === 'approved' ? { txn: o.receipt.terminalTxnId } : {}),
          });
          if (o.kind !== 'approved') await sleep(100);
        }
      }
    }),
  ).then(() => undefined);
  return { done, paid };
}

/** The ledger against what the tills were told: sum zero, one settlement per txn, every approval in it once. */
function checkBooks(r: Rig, paid: readonly Paid[]): void {
  const f = ledgerFacts(r);
  expect(f.sum).toBe(0);
  for (const n of f.perTxn.values()) expect(n).toBe(1);
  for (const p of paid.filter((x) => x.kind === 'approved')) {
    const terminalId = r.tills[p.till]!.terminalId;
    expect(
      r.query(
        'SELECT 1 FROM settlements WHERE terminal_id = ? AND terminal_txn_id = ? AND approved = 1',
        terminalId,
        p.txn,
      ),
      `${p.txn} told approved, not in the ledger once`,
    ).toHaveLength(1);
  }
}

const tally = (paid: readonly Paid[]) =>
  paid.reduce<Record<string, number>>((m, p) => ((m[p.kind] = (m[p.kind] ?? 0) + 1), m), {});
const approvedIn = (paid: readonly Paid[], from: number, to: number) =>
  paid.filter((p) => p.kind === 'approved' && p.at >= from && p.at + p.ms <= to).length;
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] ?? 0;

describe('two backend nodes over one SQLite file, tills balancing over both', () => {
  it(
    'keeps taking payments while one node is kill -9ed, and while one is SIGSTOPped',
    { timeout: timeout(180_000) },
    async () => {
      rig = await startRig({
        tills: 2,
        backend: 'process',
        nodes: 2,
        fleetCards: 2,
        deadlineMs: 2_000,
        attempts: 3,
      });
      const r = rig;
      const stop = { now: false };
      const { done, paid } = load(r, stop);
      await sleep(3_000);
      const killAt = Date.now();
      const killed = await r.signalNode(1, 'SIGKILL');
      expect(killed.signal).toBe('SIGKILL');
      await sleep(5_000);
      const killEnd = Date.now();
      await r.startNode(1);
      await sleep(3_000);
      // Stopped at a moment it holds no write lock. SQLite has one writer: a node frozen inside its
      // commit holds every node's writes until it runs again (README, "Several nodes today"); what
      // is tested here is the tills routing around a node that does not answer.
      let stops = 0;
      let lockFree = false;
      while (!lockFree && stops < 200) {
        stops++;
        await r.signalNode(0, 'SIGSTOP');
        await sleep(20);
        lockFree = r.writeLockFree();
        if (!lockFree) {
          r.node(0)!.kill('SIGCONT');
          await sleep(25);
        }
      }
      expect(lockFree, `node 0 held the write lock at each of ${stops} stops`).toBe(true);
      const stopAt = Date.now();
      await sleep(6_000);
      r.node(0)!.kill('SIGCONT');
      const stopEnd = Date.now();
      await sleep(3_000);
      stop.now = true;
      await done;
      const kinds = tally(paid);
      const failed = paid.filter((p) => p.kind !== 'approved');
      const figures = {
        bench: 'faults_backend_nodes_kill_stop',
        payments: paid.length,
        outcomes: kinds,
        approvedWhileKilled: approvedIn(paid, killAt, killEnd),
        approvedWhileStopped: approvedIn(paid, stopAt, stopEnd),
        stopsUntilNoWriteLock: stops,
        paymentMsMax: Math.max(...paid.map((p) => p.ms)),
        paymentMsP99: p99(paid.map((p) => p.ms)),
        callsPerNode: r.tills.map((t) => t.client.callsPerNode()),
      };
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      // No payment is ever reported declined: a node going away is not the card's answer.
      expect(paid.filter((p) => p.kind === 'declined')).toEqual([]);
      // Payments went on at the other node while one was gone, and while one was stopped.
      expect(figures.approvedWhileKilled).toBeGreaterThan(0);
      expect(figures.approvedWhileStopped).toBeGreaterThan(0);
      // At most one payment per till and fault may fail: an Authorize whose challenge the lost node
      // used before it went (outcome unknown, nothing charged); never a charge in doubt.
      expect(failed.length, JSON.stringify(failed)).toBeLessThanOrEqual(2 * r.tills.length);
      for (const f of failed) expect(f.kind).toMatch(/:no$/);
      await sleep(500);
      for (const t of r.tills) await t.till.resolveUnresolved();
      checkBooks(r, paid);
    },
  );

  it(
    'a rolling restart (SIGTERM each node, start it again) under load loses no payment',
    { timeout: timeout(180_000) },
    async () => {
      rig = await startRig({
        tills: 2,
        backend: 'process',
        nodes: 2,
        fleetCards: 2,
        deadlineMs: 2_000,
        attempts: 3,
      });
      const r = rig;
      const stop = { now: false };
      const { done, paid } = load(r, stop);
      await sleep(2_500);
      const exits = [];
      const drains: unknown[] = [];
      for (const i of [0, 1]) {
        const exit = await r.signalNode(i, 'SIGTERM');
        exits.push(exit);
        const drained = r
          .nodeOutput(i)
          .split('\n')
          .filter((l) => l.includes('"event":"drained"'))
          .map((l) => JSON.parse(l) as { inFlight: number; refused: number; ms: number });
        drains.push(...drained);
        expect(drained).toHaveLength(1);
        await r.startNode(i);
        await sleep(2_500);
      }
      stop.now = true;
      await done;
      const figures = {
        bench: 'faults_backend_nodes_rolling_restart',
        payments: paid.length,
        outcomes: tally(paid),
        drains,
        paymentMsMax: Math.max(...paid.map((p) => p.ms)),
        paymentMsP99: p99(paid.map((p) => p.ms)),
      };
      process.stdout.write(`${JSON.stringify(figures)}\n`);
      expect(exits).toEqual([
        { code: 0, signal: null },
        { code: 0, signal: null },
      ]);
      expect(paid.length).toBeGreaterThan(4);
      expect(paid.filter((p) => p.kind !== 'approved')).toEqual([]);
      for (const t of r.tills) expect(t.journal.unresolved()).toHaveLength(0);
      checkBooks(r, paid);
    },
  );

  it(
    'drain: the call in flight at SIGTERM is answered, health is NOT_SERVING meanwhile, new calls go to the other node, exit 0',
    { timeout: timeout(120_000) },
    async () => {
      rig = await startRig({ tills: 1, backend: 'process', nodes: 2, deadlineMs: 8_000 });
      const r = rig;
      const [a] = r.addresses();
      const tls = readTerminalTls(r.seed.tlsDir, 'T-0001');
      const creds = credentials.createSsl(tls.ca, tls.key, tls.cert);
      const healthA = new health.HealthClient(a!, creds);
      const authA = new AuthorizationClient(a!, creds);
      const onlyA = new GrpcBackendClient({
        authorizationAddress: a!,
        terminalId: 'T-0001',
        tls,
        deadlineMs: 8_000,
      });
      const check = (service: string) =>
        new Promise<string>((resolve, reject) =>
          healthA.check({ service }, new Metadata(), { deadline: Date.now() + 2_000 }, (e, res) =>
            e ? reject(e) : resolve(health.HealthCheckResponse_ServingStatus[res.status]!),
          ),
        );
      try {
        expect(await check('bluetill.v1.Authorization')).toBe('SERVING');
        // The test holds the shared file's write lock: node A's Challenge waits for it, in flight.
        const db = new Database(r.seed.dbPath);
        db.exec('BEGIN IMMEDIATE');
        let answered = false;
        const inFlight = onlyA.challenge().then((c) => ((answered = true), c));
        await sleep(500);
        expect(answered).toBe(false);
        const exit = r.signalNode(0, 'SIGTERM');
        await sleep(300);
        for (const service of [
          '',
          'bluetill.v1.Authorization',
          'bluetill.v1.Settlement',
          'grpc.health.v1.Health',
        ])
          expect(await check(service), service).toBe('NOT_SERVING');
        // A new call to the draining node is refused at once, marked so that a till moves on.
        const refusal = await new Promise<ServiceError>((resolve) =>
          authA.challenge({ terminalId: 'T-0001' }, new Metadata(), { deadline: Date.now() + 2_000 }, (e) =>
            resolve(e!),
          ),
        );
        expect(refusal.code).toBe(status.UNAVAILABLE);
        expect(String(refusal.metadata.get(DRAINING_TRAILER_KEY)[0])).toBe('1');
        // The till's client over both nodes: a read while A drains is answered (by B).
        for (let i = 0; i < 2; i++) await r.tills[0]!.client.listTransactions(0, 0);
        expect(answered).toBe(false);
        db.exec('ROLLBACK');
        db.close();
        const challenge = await inFlight;
        expect(challenge.unpredictableNumber).toHaveLength(4);
        expect(await exit).toEqual({ code: 0, signal: null });
        const log = r.nodeOutput(0);
        expect(log).toMatch(/"event":"drain_started","inFlight":1/);
        const drained = JSON.parse(log.split('\n').find((l) => l.includes('"event":"drained"'))!) as {
          forced: boolean;
          refused: number;
        };
        expect(drained.forced).toBe(false);
        expect(drained.refused).toBeGreaterThanOrEqual(1);
      } finally {
        healthA.close();
        authA.close();
        onlyA.close();
      }
    },
  );

  it(
    'drain: a call still in flight at --drain-timeout is cut and the node ends (SIGKILL, logged); so does a second signal after SIGINT',
    { timeout: timeout(120_000) },
    async () => {
      rig = await startRig({ tills: 1, backend: 'process', nodes: 1 });
      const r = rig;
      await r.signalNode(0, 'SIGKILL');
      for (const how of ['deadline', 'second signal'] as const) {
        await r.startNode(0, how === 'deadline' ? ['--drain-timeout', '400'] : []);
        const tls = readTerminalTls(r.seed.tlsDir, 'T-0001');
        const client = new GrpcBackendClient({
          authorizationAddress: r.address(),
          terminalId: 'T-0001',
          tls,
          deadlineMs: 8_000,
          attempts: 1,
        });
        const db = new Database(r.seed.dbPath);
        db.exec('BEGIN IMMEDIATE');
        try {
          const inFlight = client.challenge().then(
            () => 'answered',
            () => 'cut',
          );
          await sleep(500);
          const t0 = Date.now();
          // SIGINT drains as SIGTERM does; either again forces the end.
          const exit = r.signalNode(0, how === 'deadline' ? 'SIGTERM' : 'SIGINT');
          if (how === 'second signal') {
            await sleep(200);
            expect(r.nodeOutput(0)).toContain('"event":"drain_started"');
            r.node(0)!.kill('SIGTERM');
          }
          expect(await exit).toEqual({ code: null, signal: 'SIGKILL' });
          expect(Date.now() - t0).toBeLessThan(3_000);
          expect(await inFlight).toBe('cut');
          expect(r.nodeOutput(0), r.nodeOutput(0)).toContain('"event":"drain_forced"');
        } finally {
          db.exec('ROLLBACK');
          db.close();
          client.close();
        }
      }
    },
  );
});
