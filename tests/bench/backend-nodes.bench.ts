/**
 * The backend as separate node processes over one PostgreSQL server, and what each process spends:
 *   pg2_authorize_per_s, pg2_settle_per_s   two backend nodes, every call sent to the next node in
 *                   turn, with "baseline" = the same run's one-node figure (the same processes, one
 *                   of them given all the calls) and "ratio";
 *   pg_cpu_ms_per_{authorize,settle}_{node,postgres}   CPU per call of the backend node process
 *                   (all its threads: gRPC, use-case worker, crypto workers; /proc/<pid>/stat) and of
 *                   PostgreSQL (utime + stime of the postmaster and all its children: backends,
 *                   WAL writer, checkpointer …) in the one-node runs, with the two-node runs' figures
 *                   beside them (`two_nodes`: both nodes' CPU summed).
 * Concurrency 64 over mutual TLS, as backend.bench.ts; rounds interleaved (one node, two nodes,
 * again) and each figure the median round. The client (this process) prepares every request
 * before a round (challenges, the card's signature, the sealed PIN, the ARQC) and sends bytes.
 * Linux only (/proc). The nodes are `startBackend` as `serve` runs it (backend-node.ts);
 * BENCH_NODE_PROFILE=DIR has them write V8 CPU profiles (`--cpu-prof`) into DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  credentials,
  makeGenericClientConstructor,
  type ChannelCredentials,
  type ServiceDefinition,
  type ServiceError,
} from '@grpc/grpc-js';
import postgres from 'postgres';
import {
  AuthorizationService,
  AuthorizeRequest,
  AuthorizeResponse,
  ChallengeRequest,
  ChallengeResponse,
  SettleRequest,
  SettleResponse,
  pinSealContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
} from '@bluetill/protocol';
import { MasterKey, fleetCards, readTerminalTls, seedDemo } from '@bluetill/backend';
import { parseStoreSpec } from '../../backend/src/adapters/store-spec';
import { TestCard } from '../../backend/src/test-support/test-card';
import { report } from './report';

const CONCURRENCY = 64;
const NODE_SCRIPT = resolve(import.meta.dirname, 'backend-node.ts');
const raw = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
});
const RAW: ServiceDefinition = {
  challenge: raw(AuthorizationService.challenge.path),
  authorize: raw(AuthorizationService.authorize.path),
  settle: raw(AuthorizationService.settle.path),
};
type RawCall = (b: Buffer, cb: (e: ServiceError | null, r: Buffer) => void) => void;
interface RawClient {
  challenge: RawCall;
  authorize: RawCall;
  settle: RawCall;
  close(): void;
}
const call = (c: RawClient, m: 'challenge' | 'authorize' | 'settle', b: Buffer) =>
  new Promise<Buffer>((ok, fail) => c[m].call(c, b, (e, r) => (e ? fail(e) : ok(r))));

/** utime + stime of one process (all its threads), in ms; 0 when it is gone. */
function processCpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

/** The postmaster and every process it started (its children), by pid. */
function postgresPids(postmaster: number): number[] {
  const pids = [postmaster];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(p));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

interface NodeProcess {
  readonly child: ChildProcess;
  readonly client: RawClient;
}

async function startNode(
  env: NodeJS.ProcessEnv,
  settings: object,
  creds: ChannelCredentials,
): Promise<NodeProcess> {
  // BENCH_NODE_PROFILE=DIR: each node writes V8 CPU profiles there (one per thread), to see where its CPU goes.
  const profile = process.env.BENCH_NODE_PROFILE;
  const profiling = profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
  const child = spawn(process.execPath, [...profiling, '--import', 'tsx', NODE_SCRIPT], {
    env: { ...env, BENCH_NODE: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const port = await new Promise<number>((ok, fail) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) ok(Number(m[1]));
    });
    child.once('exit', (code, signal) => fail(new Error(`bench node exited (${code ?? signal}): ${err}`)));
  });
  const Client = makeGenericClientConstructor(RAW, 'RawBackend');
  return { child, client: new Client(`localhost:${port}`, creds) as unknown as RawClient };
}

interface Run {
  readonly perSecond: number;
  /** What the database's busy sessions were doing, sampled every 20 ms: `wait_event_type:wait_event` (or CPU) → samples. */
  readonly waits: Record<string, number>;
  /** CPU ms per call: the nodes' processes (summed) and PostgreSQL's. */
  readonly nodeMs: number;
  readonly postgresMs: number;
}

export async function benchBackendNodes(o: {
  /** Calls per round. */
  calls: number;
  rounds: number;
  /** An empty database on a durable PostgreSQL server. */
  url: string;
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-bench-nodes-'));
  const masterKey = MasterKey.generate();
  const cards = fleetCards(CONCURRENCY);
  const seed = await seedDemo(dir, [], cards, { masterKey, store: parseStoreSpec(o.url) });
  const tls = readTerminalTls(seed.tlsDir, 'T-0001');
  const creds = credentials.createSsl(tls.ca, tls.key, tls.cert);
  const settings = {
    url: o.url,
    keysPath: seed.keysPath,
    tlsDir: seed.tlsDir,
    maxChallengesPerTerminal: o.calls * 2 + 1,
  };
  const env = { ...process.env, BLUETILL_MASTER_KEY: masterKey.toBase64() };
  const sql = postgres(o.url, { max: 1, onnotice: () => undefined });
  const sampleSql = postgres(o.url, { max: 1, onnotice: () => undefined });
  const nodes: NodeProcess[] = [];
  try {
    // One after the other: the first migrates (the database is seeded and migrated already).
    for (let i = 0; i < 2; i++) nodes.push(await startNode(env, settings, creds));
    const [session] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    const backendPid = session!.pid;
    const postmaster = Number(readFileSync(`/proc/${backendPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
    const testCards = cards.map((c) => TestCard.fromFile(join(seed.cardsDir, `${c.id}.json`)));
    const root = publicKeyFromRaw(Buffer.from(seed.trust.cardCompanyRoot, 'base64'));
    const challengeWire = Buffer.from(ChallengeRequest.encode({ terminalId: 'T-0001' }).finish());
    let serial = 0;

    /** `n` authorizations' requests, their challenges taken on the given nodes in turn. */
    /** CPU ms so far of the given nodes' processes and of PostgreSQL's (the pids listed when asked). */
    const cpuOf = (over: NodeProcess[]) => {
      const pgPids = postgresPids(postmaster);
      return () => ({
        node: over.reduce((a, n) => a + processCpuMs(n.child.pid!), 0),
        pg: pgPids.reduce((a, p) => a + processCpuMs(p), 0),
      });
    };
    const prepare = async (n: number, over: NodeProcess[]) => {
      const reqs: AuthorizeRequest[] = [];
      const cpu = cpuOf(over);
      const challenge = { nodeMs: 0, postgresMs: 0 };
      for (let i = 0; i < n; i++) {
        const k = serial++;
        const card = testCards[k % testCards.length]!;
        const c0 = cpu();
        const ch = ChallengeResponse.decode(
          await call(over[i % over.length]!.client, 'challenge', challengeWire),
        );
        const c1 = cpu();
        challenge.nodeMs += (c1.node - c0.node) / n;
        challenge.postgresMs += (c1.pg - c0.pg) / n;
        const pinKey = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
        reqs.push({
          terminalId: 'T-0001',
          unpredictableNumber: ch.unpredictableNumber,
          card: card.cardData(ch.unpredictableNumber),
          sealedPinBlock: sealPin({
            pin: cards[k % cards.length]!.pin,
            pan: card.p.pan,
            pinKey: pinKey.publicKey,
            pinKeyId: pinKey.subjectId,
            context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
          }),
        });
      }
      return { reqs, first: serial - n, challenge };
    };

    const timed = async (wire: Buffer[], over: NodeProcess[], m: 'authorize' | 'settle') => {
      const cpu = cpuOf(over);
      const answers: Buffer[] = [];
      let sent = 0;
      const waits: Record<string, number> = {};
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const rows = await sampleSql<{ w: string; n: number }[]>`
            SELECT COALESCE(wait_event_type || ':' || wait_event, 'CPU') AS w, COUNT(*)::int AS n
              FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')
             GROUP BY 1`;
          for (const r of rows) waits[r.w] = (waits[r.w] ?? 0) + r.n;
          await new Promise((ok) => setTimeout(ok, 20));
        }
      })();
      const c0 = cpu();
      const t0 = performance.now();
      await Promise.all(
        // Lane j sends calls j, j + 64, …: all of one card's (card j), one after the other, as its
        // till would (its cryptograms' counters must arrive in order).
        // Each call goes to the next node in turn.
        Array.from({ length: CONCURRENCY }, async (_, lane) => {
          for (let i = lane; i < wire.length; i += CONCURRENCY)
            answers[i] = await call(over[sent++ % over.length]!.client, m, wire[i]!);
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const c1 = cpu();
      sampling = false;
      await sampler;
      const run: Run = {
        perSecond: wire.length / seconds,
        waits,
        nodeMs: (c1.node - c0.node) / wire.length,
        postgresMs: (c1.pg - c0.pg) / wire.length,
      };
      return { run, answers };
    };

    /** One round over the given nodes: Authorize every prepared request, then Settle each. */
    const round = async (over: NodeProcess[]) => {
      const { reqs, first, challenge } = await prepare(o.calls, over);
      const auth = await timed(
        reqs.map((r) => Buffer.from(AuthorizeRequest.encode(r).finish())),
        over,
        'authorize',
      );
      const settleWire = auth.answers.map((b, i) => {
        const res = AuthorizeResponse.decode(b);
        if (!res.approved) throw new Error(`authorize declined: ${res.declineReason}`);
        const k = first + i;
        const amount = { minor: 100 + (k % 50), currency: 'EUR' };
        const req: SettleRequest = {
          terminalId: 'T-0001',
          terminalTxnId: `bench-nodes-${k}`,
          merchantId: 'M-0001',
          authorizationRef: res.authorizationRef,
          card: reqs[i]!.card,
          amount,
          items: [{ sku: 'gum', name: 'Gum', quantity: 1, unitPriceMinor: amount.minor }],
          cryptogram: testCards[k % testCards.length]!.arqc(amount, reqs[i]!.unpredictableNumber),
        };
        return Buffer.from(SettleRequest.encode(req).finish());
      });
      const settle = await timed(settleWire, over, 'settle');
      for (const b of settle.answers) {
        const res = SettleResponse.decode(b);
        if (!res.approved) throw new Error(`settle declined: ${res.declineReason}`);
      }
      return { authorize: auth.run, settle: settle.run, challenge };
    };

    const one = [nodes[0]!];
    await round(one); // warm-up of both nodes (JIT, pools, HTTP/2 windows), not reported
    await round(nodes);
    // The statistics a database in service has (backend.bench.ts, analyze): the plans made for
    // the empty tables are made again on them.
    await sql`ANALYZE`;
    type Round = Awaited<ReturnType<typeof round>>;
    const runs: { one: Round[]; two: Round[] } = { one: [], two: [] };
    for (let r = 0; r < o.rounds; r++) {
      runs.one.push(await round(one));
      runs.two.push(await round(nodes));
    }
    const median = (xs: Run[]): Run =>
      [...xs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(xs.length / 2)]!;
    const ms = (x: number) => Number(x.toFixed(3));
    /** The busy sessions' states over all rounds, as shares of the samples (the five largest). */
    const shares = (all: Array<Record<string, number>>) => {
      const sum: Record<string, number> = {};
      for (const w of all) for (const [k, n] of Object.entries(w)) sum[k] = (sum[k] ?? 0) + n;
      const total = Object.values(sum).reduce((x, y) => x + y, 0) || 1;
      return Object.fromEntries(
        Object.entries(sum)
          .sort((x, y) => y[1] - x[1])
          .slice(0, 5)
          .map(([k, n]) => [k, Number((n / total).toFixed(2))]),
      );
    };
    for (const m of ['authorize', 'settle'] as const) {
      const a = median(runs.one.map((r) => r[m]));
      const b = median(runs.two.map((r) => r[m]));
      report({
        bench: `pg2_${m}_per_s`,
        value: b.perSecond,
        unit: 'calls/s',
        baseline: a.perSecond,
        ratio: b.perSecond / a.perSecond,
        baseline_is: 'one node, same run',
        nodes: 2,
        rounds: runs.two.map((r) => Math.round(r[m].perSecond)),
        baseline_rounds: runs.one.map((r) => Math.round(r[m].perSecond)),
        concurrency: CONCURRENCY,
        store: 'postgresql',
        durability: 'fsync on, synchronous_commit on',
        cpu_ms_per_call: { nodes: ms(b.nodeMs), postgres: ms(b.postgresMs) },
      });
      for (const [who, key] of [
        ['node', 'nodeMs'],
        ['postgres', 'postgresMs'],
      ] as const)
        report({
          bench: `pg_cpu_ms_per_${m}_${who}`,
          value: a[key],
          unit: 'ms',
          what:
            who === 'node'
              ? 'CPU of the backend node process (all threads) per call, one node'
              : 'CPU of all PostgreSQL processes per call, one node',
          two_nodes: ms(b[key]),
          calls_per_s: Math.round(a.perSecond),
          ...(who === 'postgres' ? { sessions: shares(runs.one.map((r) => r[m].waits)) } : {}),
        });
    }
    // Challenges are taken one at a time while the requests are made (concurrency 1): an upper bound.
    for (const [who, key] of [
      ['node', 'nodeMs'],
      ['postgres', 'postgresMs'],
    ] as const) {
      const xs = runs.one.map((r) => r.challenge[key]).sort((x, y) => x - y);
      report({
        bench: `pg_cpu_ms_per_challenge_${who}`,
        value: xs[Math.floor(xs.length / 2)]!,
        unit: 'ms',
        what: `CPU of ${who === 'node' ? 'the backend node process' : 'all PostgreSQL processes'} per Challenge, one node, one call at a time`,
      });
    }
    const sums = await sql<{ s: string }[]>`SELECT COALESCE(SUM(amount_minor), 0)::text AS s FROM postings`;
    if (sums[0]!.s !== '0') throw new Error(`ledger sums to ${sums[0]!.s}`);
  } finally {
    for (const n of nodes) {
      n.client.close();
      const gone = new Promise((ok) => n.child.once('exit', ok));
      n.child.kill('SIGTERM');
      await gone;
    }
    await sql.end({ timeout: 5 });
    await sampleSql.end({ timeout: 5 });
    rmSync(dir, { recursive: true, force: true });
  }
}
