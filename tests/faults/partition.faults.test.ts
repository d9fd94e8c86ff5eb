/**
 * A network partition between a backend node and PostgreSQL, on real network paths: PostgreSQL 15
 * in the root namespace, two `bluetill-backend serve` nodes (A and B) each in a network namespace
 * of its own (netns.ts), each joined to the root namespace by two veth pairs — one it reaches
 * PostgreSQL over, one the tills reach it over. Seven tills (this process, the root namespace) pay
 * in a loop with real card cryptography, balancing over both nodes (`runTills` of cluster-rig.ts,
 * as in the cluster suites); the eighth terminal is the probe client's.
 *
 * Mid-load node A is cut off from PostgreSQL only: every packet on the A↔PostgreSQL link is
 * dropped silently in both directions (the half-open case: A's connections stay open and
 * retransmit into nothing), while the tills still reach A. A must stop answering tills — health
 * NOT_SERVING, business calls refused at once with UNAVAILABLE — rather than answer from stale state
 * or hold calls past the tills' deadlines, and the tills go on paying through B. Then the link is
 * healed and A serves again. A probe client that talks to A alone measures it all through the cut.
 *
 * After: every settlement a till was told succeeded is in the ledger once, no basket charged twice,
 * every unknown outcome resolved by asking, each currency's postings sum to zero. Prints
 * {"bench":"faults_partition", …}. The fast slice is one 10 s partition; SOAK=1 runs six, alternating
 * a silent drop and the link going down, until at least 300 payments.
 *
 * Needs root (namespaces, veth pairs): without it the suite fails with that message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterKey, fleetCards, readTerminalTls, seedDemo, type SeededBackend } from '@bluetill/backend';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { AuthorizationClient, SettlementClient, health } from '@bluetill/protocol';
import { parseStoreSpec } from '../../backend/src/adapters/store-spec';
import { startPostgresServer, type PostgresServer } from '../../backend/src/test-support/postgres-server';
import { NetLab, type CutMode, type NetHost, type NetLink } from './netns';
import { checkBooks, fleetCardsOf, runTills, sleep, terminalOf as terminalIdOf } from './cluster-rig';
import { SEED, SOAK, timeout } from './support';

const CLI = resolve(import.meta.dirname, '../../backend/bin/bluetill-backend.mjs');
const TILLS = 8;
/** The tills' deadline per attempt. */
const DEADLINE_MS = 2_000;
/** How long after the cut node A must say NOT_SERVING and refuse calls. */
const DETECT_BOUND_MS = 5_000;
/** How long after healing node A must answer again. */
const RECOVER_BOUND_MS = 15_000;

let lab: NetLab | undefined;
let pg: PostgresServer | undefined;
let dir: string | undefined;
let url: string;
let seed: SeededBackend;
const masterKey = MasterKey.generate();

interface Node {
  readonly name: string;
  readonly host: NetHost;
  readonly toPg: NetLink;
  readonly toTills: NetLink;
  child?: ChildProcess;
  address?: string;
  log: string;
  /** The node's own store_unreachable / store_reachable log events (their times, ms since the epoch). */
  readonly storeEvents: Array<{ event: string; time: number }>;
}
const nodes: Node[] = [];

async function startNode(n: Node, storeUrl: string): Promise<void> {
  const c = spawn(
    'ip',
    [
      'netns',
      'exec',
      n.host.ns,
      process.execPath,
      CLI,
      'serve',
      '--dir',
      dir!,
      '--store',
      storeUrl,
      '--host',
      n.toTills.hostAddress,
      '--port',
      '0',
      '--shopper-port',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BLUETILL_MASTER_KEY: masterKey.toBase64() } },
  );
  n.child = c;
  let partial = '';
  c.stderr!.on('data', (d: Buffer) => {
    n.log = (n.log + d.toString()).slice(-20_000);
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = /"event":"(store_(?:un)?reachable)"/.exec(line);
      const t = /"time":(\d+)/.exec(line);
      if (m && t) n.storeEvents.push({ event: m[1]!, time: Number(t[1]) });
    }
  });
  const port = await new Promise<number>((ok, fail) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^\s:]+:(\d+)/.exec(out);
      if (m) ok(Number(m[1]));
    });
    c.once('exit', (code, signal) => fail(new Error(`node ${n.name} exited (${code ?? signal}): ${n.log}`)));
  });
  n.address = `${n.toTills.hostAddress}:${port}`;
}

async function stopNode(n: Node): Promise<void> {
  const c = n.child;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((ok) => c.once('exit', ok));
  c.kill('SIGKILL');
  await gone;
}

beforeAll(async () => {
  lab = await NetLab.create();
  for (const name of ['a', 'b']) {
    const host = lab.host(name);
    nodes.push({ name, host, toPg: lab.link(host), toTills: lab.link(host), log: '', storeEvents: [] });
  }
  pg = await startPostgresServer({
    listen: nodes.map((n) => n.toPg.rootAddress),
    allow: nodes.map((n) => n.toPg.subnet),
  });
  url = await pg.createDatabase('partition');
  dir = mkdtempSync(join(tmpdir(), 'bluetill-partition-'));
  const terminals = Array.from({ length: TILLS }, (_, i) => terminalIdOf(i)).slice(1);
  seed = await seedDemo(dir, terminals, fleetCards(TILLS), {
    masterKey,
    store: parseStoreSpec(url),
    serverNames: nodes.map((n) => n.toTills.hostAddress),
  });
  // One after the other: the first migrates the new database.
  for (const n of nodes) await startNode(n, url.replace('127.0.0.1', n.toPg.rootAddress));
}, 120_000);

afterAll(async () => {
  try {
    for (const n of nodes) await stopNode(n);
    await pg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  } finally {
    lab?.close();
  }
  if (lab) expect(lab.leftovers()).toEqual([]);
}, 60_000);

/** One call of the probe client to node A: when it started, how long it took, how it ended. */
interface ProbeCall {
  readonly kind: 'health' | 'challenge' | 'lookup';
  readonly at: number;
  readonly ms: number;
  /** ok: answered from the store; not_serving: health said so; refused: UNAVAILABLE; deadline: no answer in time. */
  readonly outcome: 'ok' | 'not_serving' | 'refused' | 'deadline' | 'other';
  readonly detail?: string;
}

/**
 * Calls node A alone until stopped: health, a Challenge and a GetSettlement, each in its own loop
 * 200 ms apart, each on a channel of its own kept open (so a call's time is the node's answer, not
 * a TLS handshake), with the tills' deadline.
 */
async function probeNodeA(stop: { now: boolean }, calls: ProbeCall[]): Promise<void> {
  const terminalId = terminalIdOf(TILLS - 1);
  const t = readTerminalTls(seed.tlsDir, terminalId);
  const creds = () => credentials.createSsl(t.ca, t.key, t.cert);
  const address = nodes[0]!.address!;
  const auth = new AuthorizationClient(address, creds());
  const settlement = new SettlementClient(address, creds());
  const healthClient = new health.HealthClient(address, creds());
  const deadline = () => ({ deadline: Date.now() + DEADLINE_MS });
  type Cb = (e: ServiceError | null, notServing?: boolean) => void;
  const one = (kind: ProbeCall['kind'], call: (cb: Cb) => void) =>
    new Promise<void>((done) => {
      const at = Date.now();
      call((e, notServing) => {
        const outcome: ProbeCall['outcome'] = !e
          ? notServing
            ? 'not_serving'
            : 'ok'
          : e.code === status.UNAVAILABLE
            ? 'refused'
            : e.code === status.DEADLINE_EXCEEDED
              ? 'deadline'
              : 'other';
        calls.push({ kind, at, ms: Date.now() - at, outcome, ...(e ? { detail: e.details } : {}) });
        done();
      });
    });
  let i = 0;
  const loop = async (kind: ProbeCall['kind'], call: (cb: Cb) => void) => {
    while (!stop.now) {
      await one(kind, call);
      await sleep(200);
    }
  };
  try {
    await Promise.all([
      loop('health', (cb) =>
        healthClient.check({ service: 'bluetill.v1.Authorization' }, new Metadata(), deadline(), (e, r) =>
          cb(e, r?.status === health.HealthCheckResponse_ServingStatus.NOT_SERVING),
        ),
      ),
      loop('challenge', (cb) => auth.challenge({ terminalId }, new Metadata(), deadline(), (e) => cb(e))),
      loop('lookup', (cb) =>
        settlement.getSettlement(
          { terminalId, terminalTxnId: `probe-${i++}` },
          new Metadata(),
          deadline(),
          (e) =>
            // NOT_FOUND is the store's answer (nothing under that id): an answer like any other.
            cb(e && e.code === status.NOT_FOUND ? null : e),
        ),
      ),
    ]);
  } finally {
    auth.close();
    settlement.close();
    healthClient.close();
  }
}

interface Partition {
  readonly mode: CutMode;
  readonly cutAt: number;
  readonly healedAt: number;
  /** Node A logged store_unreachable, ms after the cut. */
  readonly detectedMs: number;
  /** First probe call A refused (NOT_SERVING, UNAVAILABLE) ended, ms after the cut. */
  readonly firstRefusalMs: number;
  /** First Challenge A answered again, ms after the heal. */
  readonly recoveredMs: number;
}

describe('a network partition between a backend node and PostgreSQL (network namespaces)', () => {
  it(
    'the cut-off node refuses at once instead of answering stale or hanging, the tills pay through the other, and after healing the books hold',
    { timeout: timeout(240_000) },
    async () => {
      const stop = { now: false };
      const progress = { acknowledged: 0 };
      const started = Date.now();
      const loads = runTills(
        {
          seed,
          card: fleetCardsOf(seed),
          addresses: () => nodes.map((n) => n.address!),
          deadlineMs: DEADLINE_MS,
        },
        TILLS - 1,
        stop,
        progress,
      );
      const probeStop = { now: false };
      const calls: ProbeCall[] = [];
      const probing = probeNodeA(probeStop, calls);
      const partitions: Partition[] = [];
      const runs = SOAK ? 6 : 1;
      const cutMs = SOAK ? 15_000 : 10_000;
      const a = nodes[0]!;
      try {
        await sleep(3_000);
        for (let p = 0; p < runs; p++) {
          const mode: CutMode = p % 2 === 0 ? 'drop' : 'down';
          const cutAt = Date.now();
          lab!.cut(a.toPg, mode);
          await sleep(cutMs);
          const healedAt = Date.now();
          lab!.heal(a.toPg);
          // A serves again: a Challenge answered by A alone.
          while (
            !calls.some((c) => c.kind === 'challenge' && c.at >= healedAt && c.outcome === 'ok') &&
            Date.now() - healedAt < RECOVER_BOUND_MS + 5_000
          )
            await sleep(100);
          const firstRefusal = calls.find(
            (c) =>
              c.at >= cutAt && c.at < healedAt && (c.outcome === 'not_serving' || c.outcome === 'refused'),
          );
          const firstOk = calls.find((c) => c.kind === 'challenge' && c.at >= healedAt && c.outcome === 'ok');
          const unreachable = a.storeEvents.find((e) => e.event === 'store_unreachable' && e.time >= cutAt);
          partitions.push({
            mode,
            cutAt,
            healedAt,
            detectedMs: unreachable ? unreachable.time - cutAt : Infinity,
            firstRefusalMs: firstRefusal ? firstRefusal.at + firstRefusal.ms - cutAt : Infinity,
            recoveredMs: firstOk ? firstOk.at + firstOk.ms - healedAt : Infinity,
          });
          await sleep(SOAK ? 5_000 : 3_000);
        }
        while (SOAK && progress.acknowledged < 300) await sleep(250);
      } finally {
        stop.now = true;
        probeStop.now = true;
      }
      await probing;
      const facts = await loads;
      const books = await checkBooks(url, facts);
      const unresolved = books.unresolved;

      // What A did while it could not reach PostgreSQL: once it had noticed (its store_unreachable),
      // every call refused at once; an answer from the store inside a cut is a stale answer.
      const inCut = (c: ProbeCall) => partitions.find((p) => c.at >= p.cutAt && c.at + c.ms <= p.healedAt);
      const afterDetection = (c: ProbeCall) => {
        const p = inCut(c);
        return p !== undefined && c.at >= p.cutAt + p.detectedMs;
      };
      const stale = calls.filter((c) => inCut(c) && c.kind !== 'health' && c.outcome === 'ok');
      const healthServing = calls.filter(
        (c) => afterDetection(c) && c.kind === 'health' && c.outcome === 'ok',
      );
      // Never held to the tills' deadline. Refusals are answered at once (the p50 and max below are
      // mostly this process's own event loop, busy with 7 tills' cryptography on 2 shared cores).
      const slow = calls.filter((c) => afterDetection(c) && c.ms >= DEADLINE_MS);
      const refusalMs = calls
        .filter((c) => afterDetection(c))
        .map((c) => c.ms)
        .sort((x, y) => x - y);
      const notRefused = calls.filter(
        (c) => afterDetection(c) && c.outcome !== 'refused' && c.outcome !== 'not_serving',
      );
      const paidDuringCuts = facts
        .flatMap((f) => f.acknowledged.map((a) => a.at))
        .filter((t) => partitions.some((p) => t > p.cutAt + p.detectedMs && t <= p.healedAt)).length;
      const line = {
        bench: 'faults_partition',
        seed: SEED,
        soak: SOAK,
        tills: TILLS - 1,
        seconds: Math.round((Date.now() - started) / 1000),
        payments: books.payments,
        partitions: partitions.length,
        modes: partitions.map((p) => p.mode),
        cut_ms: cutMs,
        partition_double_charges: books.doubleCharges,
        partition_acknowledged_lost: books.lost,
        partition_unresolved: unresolved,
        partition_ledger_sum: books.ledgerSum,
        stale_answers: stale.length,
        detected_ms: partitions.map((p) => p.detectedMs),
        first_refusal_ms: partitions.map((p) => p.firstRefusalMs),
        recovered_ms: partitions.map((p) => p.recoveredMs),
        paid_during_cuts: paidDuringCuts,
        // B is never cut: a store_unreachable of B's is the probe misjudging a loaded machine.
        b_unreachable_events: nodes[1]!.storeEvents.filter((e) => e.event === 'store_unreachable').length,
        probe_calls_after_detection: calls.filter(afterDetection).length,
        probe_held_to_deadline_after_detection: slow.length,
        probe_over_1s_after_detection: calls.filter((c) => afterDetection(c) && c.ms >= 1_000).length,
        refusal_ms_p50: refusalMs[Math.floor(refusalMs.length / 2)] ?? null,
        refusal_ms_max: refusalMs.at(-1) ?? null,
        probe_not_refused_after_detection: notRefused.length,
        probe_health_serving_after_detection: healthServing.length,
        probe_deadlines: calls.filter((c) => inCut(c) && c.outcome === 'deadline').length,
        asked: facts.reduce((s, f) => s + f.asked, 0),
        failed_calls: facts.reduce((s, f) => s + f.failures.length, 0),
      };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      if (notRefused.length > 0 || stale.length > 0)
        process.stdout.write(
          `${JSON.stringify({ partition_probe_failures: [...stale, ...notRefused].slice(0, 10) })}\n`,
        );

      expect({
        lost: books.lost,
        doubleCharges: books.doubleCharges,
        unresolved,
        ledgerSum: books.ledgerSum,
        stale: stale.length,
      }).toEqual({ lost: 0, doubleCharges: 0, unresolved: 0, ledgerSum: 0, stale: 0 });
      for (const p of partitions) {
        expect(p.detectedMs).toBeLessThan(DETECT_BOUND_MS);
        expect(p.firstRefusalMs).toBeLessThan(DETECT_BOUND_MS + DEADLINE_MS);
        expect(p.recoveredMs).toBeLessThan(RECOVER_BOUND_MS);
      }
      // After noticing, A refuses every call at once (health NOT_SERVING, UNAVAILABLE), never holds one.
      expect(calls.filter(afterDetection).length).toBeGreaterThan(0);
      expect({ slow: slow.length, notRefused: notRefused.length }).toEqual({ slow: 0, notRefused: 0 });
      // The tills went on paying through B while A was cut off.
      expect(paidDuringCuts).toBeGreaterThan(0);
      expect(books.payments).toBeGreaterThan(0);
    },
  );
});
