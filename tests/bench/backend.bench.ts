/**
 * The backend's own cost against the transport's: in one process, on loopback,
 *   echo_per_s      plain grpc-js unary calls to an echo server, concurrency 64, with Authorize's
 *                   message sizes: its requests' bytes sent, an answer of its response's size
 *   echo_settle_per_s  the same with Settle's message sizes (its requests, its response's size)
 *   authorize_per_s Authorize calls (card authentication, sealed PIN, durable commit)
 *   settle_per_s    Settle calls (ARQC, ledger postings, signed receipt, durable commit)
 * each with "baseline" = the echo of its own message sizes and "ratio", "calls_per_message" (forwarded calls per
 * message to the use-case worker and back), and "per_commit" (transactions per group commit,
 * i.e. per fsync) and "cpu_ms_per_call" (CPU time of the whole process, all threads, per call: a
 * figure that holds on a machine shared with others, where calls/s do not); and settle_p99_ms.
 * The backend runs its use cases on a worker thread, as `serve` does (BENCH_BACKEND_WORKER=0: on
 * the gRPC thread, as `serve --no-worker` and startBackend's default), with `serve`'s default pool
 * of crypto workers (BENCH_CRYPTO_WORKERS=n: n of them; 0: the use-case worker does that work).
 * Work that is the client's (challenges, card signatures, sealing PINs, encoding the requests) is
 * done before timing, and the three calls go through one raw-bytes client: each sends bytes and
 * takes the answer's bytes, so the client — which shares the gRPC thread with the servers here —
 * costs the same for all three, and the figures compare the servers (answers are decoded and
 * checked after timing).
 * The echo server uses the backend's own mutual TLS (same certificates), so the ratio compares
 * like with like. The echo is warmed up with 5,000 calls (JIT, HTTP/2 windows: its first
 * thousands run 20-40 % slower, which made ratios look better than they were), then the calls run
 * in 9 interleaved rounds (echo, authorize, echo of Settle's sizes, settle) after a warm-up round of
 * 5,000 calls of each (the backend warmed up as long as the echo) that also measures the responses'
 * sizes; each round's Authorize requests are made just before it: each figure is its
 * median round, each ratio the median of the rounds' own ratios, and "rounds" / "round_ratios"
 * list them all (a virtual machine's speed drifts within a minute).
 * On Linux each figure also carries "threads_us_per_call": CPU µs per call by thread (from
 * /proc/self/task, 10 ms ticks): grpc (the gRPC thread, which also runs the benchmark's client),
 * use_case (the use-case worker: store, group commits), crypto (the crypto workers), other (V8's GC
 * and compiler threads, libuv) — what limits the figure on a machine with few cores.
 */
import {
  Server,
  ServerCredentials,
  makeGenericClientConstructor,
  type ServiceError,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import {
  AuthorizationService,
  AuthorizeRequest,
  AuthorizeResponse,
  SettleRequest,
  SettleResponse,
} from '@bluetill/protocol';
import { fleetCards, readServerTls } from '@bluetill/backend';
import { startBackendFixture } from '../../backend/src/test-support/backend-fixture';
import { TestCard } from '../../backend/src/test-support/test-card';
import { sealPin, pinSealContext, verifyCertificate, publicKeyFromRaw } from '@bluetill/protocol';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import postgres from 'postgres';
import { percentile, report } from './report';

const CONCURRENCY = 64;
const ROUNDS = 9; // the round ratios of one run spread ±0.1 on this shared 2-core machine: 9 make the median steadier than 5
/**
 * The backend's warm-up round, as long as the echo's (5,000 calls): with 300, the first two or
 * three measured rounds of Authorize ran ~25 % slower than the rest in every run (JIT, the use-case
 * worker's heap growing), which the echo, warmed up with 5,000, was spared.
 */
const WARM_UP_CALLS = 5000;
const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const rawMethod = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: raw.serialize,
  requestDeserialize: raw.deserialize,
  responseSerialize: raw.serialize,
  responseDeserialize: raw.deserialize,
});
/** The echo of each method's sizes: the request's bytes in, an answer of the method's response size out. */
const ECHO: ServiceDefinition = {
  asAuthorize: rawMethod('/bench.Echo/AsAuthorize'),
  asSettle: rawMethod('/bench.Echo/AsSettle'),
};
/** The backend's two measured methods, as bytes in and bytes out (see the file comment). */
const RAW_BACKEND: ServiceDefinition = {
  authorize: rawMethod(AuthorizationService.authorize.path),
  settle: rawMethod(AuthorizationService.settle.path),
};
type RawCall = (b: Buffer, cb: (e: ServiceError | null, r: Buffer) => void) => void;
const callRaw = (fn: RawCall, b: Buffer) =>
  new Promise<Buffer>((res, rej) => fn(b, (e, r) => (e ? rej(e) : res(r))));

/** CPU clock ticks (user + system) of each thread of this process, by Linux thread id; empty where /proc is missing. */
function threadTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return ticks;
  }
  for (const tid of tids) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks.set(Number(tid), Number(fields[11]) + Number(fields[12])); // utime, stime
    } catch {
      // the thread ended meanwhile
    }
  }
  return ticks;
}

type Roles = ReadonlyArray<{ readonly role: string; readonly tid: number }>;

/** CPU µs per call by role (see the file comment); undefined without /proc. */
function perThread(
  before: Map<number, number>,
  after: Map<number, number>,
  calls: number,
  roles: Roles,
): Record<string, number> | undefined {
  if (after.size === 0) return undefined;
  const usPerTick = 1e6 / 100; // USER_HZ
  const out: Record<string, number> = { grpc: 0, use_case: 0, crypto: 0, other: 0 };
  for (const [tid, t] of after) {
    const role = roles.find((r) => r.tid === tid)?.role.replace('-', '_') ?? 'other';
    out[role] = (out[role] ?? 0) + ((t - (before.get(tid) ?? 0)) * usPerTick) / calls;
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k]!);
  return out;
}

interface Timed {
  readonly perSecond: number;
  readonly latencies: number[];
  readonly cpuMsPerCall: number;
  readonly threads?: Record<string, number>;
}

async function timed<T>(
  items: readonly T[],
  run: (item: T) => Promise<unknown>,
  roles: Roles = [],
): Promise<Timed> {
  let next = 0;
  const latencies: number[] = [];
  const ticks0 = threadTicks();
  const cpu0 = process.cpuUsage(); // every thread of the process: client, gRPC thread, use-case worker
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const t = performance.now();
        await run(item);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const threads = perThread(ticks0, threadTicks(), items.length, roles);
  return {
    perSecond: items.length / ((performance.now() - t0) / 1000),
    latencies: latencies.sort((a, b) => a - b),
    cpuMsPerCall: (cpu.user + cpu.system) / 1000 / items.length,
    ...(threads ? { threads } : {}),
  };
}

/**
 * The database's statistics after the warm-up round, as a server in service has them: autovacuum
 * analyzes a table once 50 rows (and then a tenth of it) have changed, at most a minute
 * (autovacuum_naptime) later, which a benchmark of a few minutes on a new database may or may not
 * see. Until then each session's prepared statements run on the plans PostgreSQL made for empty
 * tables, and some of those read a terminal's every settlement to find one (the facts read went
 * from 16 buffers a call to 750-970 over a run), and a run measured when autovacuum happened to come.
 */
async function analyze(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    await sql`ANALYZE`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** `calls`: per round (ROUNDS rounds, after a warm-up round). */
/** A run's medians, for another run's baseline (the PostgreSQL store's against SQLite's). */
export interface BackendFigures {
  readonly authorize: number;
  readonly settle: number;
  readonly settleP99Ms: number;
}

export async function benchBackend(o: {
  calls: number;
  /** The backend's warm-up round (default WARM_UP_CALLS); its challenges must all be taken within their minute. */
  warmUpCalls?: number;
  worker?: boolean;
  cryptoWorkers?: number;
  /**
   * The PostgreSQL store instead of SQLite: figures named `pg_…`, each with "baseline" = the SQLite
   * run's figure given here (same process, same sizes) and "ratio" to it.
   */
  postgres?: { readonly url: string; readonly sqlite: BackendFigures };
}): Promise<BackendFigures> {
  const worker = o.worker ?? process.env.BENCH_BACKEND_WORKER !== '0';
  const warmUp = o.warmUpCalls ?? WARM_UP_CALLS;
  const cryptoWorkers =
    o.cryptoWorkers ??
    (process.env.BENCH_CRYPTO_WORKERS ? Number(process.env.BENCH_CRYPTO_WORKERS) : undefined);
  const f = await startBackendFixture({
    extraCards: fleetCards(CONCURRENCY),
    // Every request of a round is prepared (its challenge taken) before the round runs: a till's
    // bound on the challenges it holds (flood defence) is raised to what the benchmark holds.
    authorizationLimits: { maxChallengesPerTerminal: Math.max(warmUp, o.calls) + 1 },
    ...(o.postgres ? { postgresUrl: o.postgres.url } : {}),
    worker,
    ...(cryptoWorkers !== undefined ? { cryptoWorkers } : {}),
  });
  const echoServer = new Server();
  // The answers' sizes: the real responses' (median), measured in the warm-up round.
  const answer = { asAuthorize: Buffer.alloc(64, 7), asSettle: Buffer.alloc(512, 7) };
  echoServer.addService(ECHO, {
    asAuthorize: (_call: unknown, cb: (e: null, r: Buffer) => void) => cb(null, answer.asAuthorize),
    asSettle: (_call: unknown, cb: (e: null, r: Buffer) => void) => cb(null, answer.asSettle),
  });
  const tls = readServerTls(f.seed.tlsDir);
  const serverCreds = ServerCredentials.createSsl(
    tls.ca,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    true,
  );
  const echoPort = await new Promise<number>((res, rej) =>
    echoServer.bindAsync('127.0.0.1:0', serverCreds, (e, p) => (e ? rej(e) : res(p))),
  );
  const EchoClient = makeGenericClientConstructor(ECHO, 'Echo');
  // Both named as a till names the backend, by a DNS name the server certificate carries (an IP
  // address there makes Node warn: grpc-js sends the target's host as the TLS server name).
  const echo = new EchoClient(`localhost:${echoPort}`, f.credentialsFor('T-0001')) as unknown as {
    asAuthorize: RawCall;
    asSettle: RawCall;
  };
  const backend = new (makeGenericClientConstructor(RAW_BACKEND, 'RawBackend'))(
    `localhost:${f.backend.port}`,
    f.credentialsFor('T-0001'),
  ) as unknown as { authorize: RawCall; settle: RawCall; close(): void };
  try {
    const cards = fleetCards(CONCURRENCY).map((c) =>
      TestCard.fromFile(join(f.seed.cardsDir, `${c.id}.json`)),
    );
    const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
    // The requests (client-side work: challenges, DDA signatures, sealed PINs), made before each
    // round (an unpredictable number lives 60 s: made all at once, the last rounds' would expire).
    const authorizeReqs: Array<AuthorizeRequest | undefined> = [];
    const authorizeWire: Array<Buffer | undefined> = [];
    const prepare = async (n: number): Promise<number[]> => {
      const from = authorizeReqs.length;
      // The challenges asked CONCURRENCY at a time: one after another, the warm-up's 5,000 took
      // over their minute on a loaded machine, and the first expired before they were used.
      const challenges: Awaited<ReturnType<typeof f.challenge>>[] = [];
      while (challenges.length < n)
        challenges.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(CONCURRENCY, n - challenges.length) }, () => f.challenge()),
          )),
        );
      for (let i = from; i < from + n; i++) {
        const card = cards[i % cards.length]!;
        const ch = challenges[i - from]!;
        const pinKey = verifyCertificate(ch.pinKeyCertificate, root, { role: 'pin-key', now: Date.now() });
        const pin = fleetCards(CONCURRENCY)[i % cards.length]!.pin;
        authorizeReqs.push({
          terminalId: 'T-0001',
          unpredictableNumber: ch.unpredictableNumber,
          card: card.cardData(ch.unpredictableNumber),
          sealedPinBlock: sealPin({
            pin,
            pan: card.p.pan,
            pinKey: pinKey.publicKey,
            pinKeyId: pinKey.subjectId,
            context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
          }),
        });
        authorizeWire.push(Buffer.from(AuthorizeRequest.encode(authorizeReqs[i]!).finish()));
      }
      return Array.from({ length: n }, (_, k) => from + k);
    };
    await prepare(1);
    const authorizeBytes = authorizeWire[0]!.length;
    await timed(Array.from({ length: 5000 }), () => callRaw(echo.asAuthorize.bind(echo), authorizeWire[0]!)); // warm-up: JIT, HTTP/2 windows
    await timed(Array.from({ length: 1000 }), () => callRaw(echo.asSettle.bind(echo), authorizeWire[0]!));
    const medianSize = (bs: Buffer[]) =>
      bs.map((b) => b.length).sort((a, b) => a - b)[Math.floor(bs.length / 2)]!;
    const roles = f.backend.threadIds;
    const commits = async () => ({
      ...(await f.backend.commitStats()),
      crossed: f.backend.forwardedCrossings(),
    });
    /** Calls per message to the use-case worker and back, between two counts. */
    const perMessage = (a: Awaited<ReturnType<typeof commits>>, b: Awaited<ReturnType<typeof commits>>) =>
      a.crossed && b.crossed
        ? {
            to:
              (b.crossed.calls - a.crossed.calls) /
              Math.max(1, b.crossed.callMessages - a.crossed.callMessages),
            back:
              (b.crossed.calls - a.crossed.calls) /
              Math.max(1, b.crossed.replyMessages - a.crossed.replyMessages),
          }
        : undefined;
    // A pause for the garbage collector's background work after making requests, so that it does
    // not fall on the timed run right after (an echo's) more than on the others.
    const quiet = () => new Promise((resolve) => setTimeout(resolve, 300));
    const responses: Array<AuthorizeResponse | undefined> = [];
    // Interleaved rounds (echo, authorize, settle; again): a virtual machine's speed drifts by
    // 10-20% within a minute here, and a ratio of figures taken minutes apart measures that too.
    // Each figure is the median round's; each ratio the median of the rounds' own ratios.
    type Backend = Timed & { perCommit: number; perMessage?: { to: number; back: number } | undefined };
    const rounds: Array<{ echo: Timed; echoSettle: Timed; authorize: Backend; settle: Backend }> = [];
    const sizes = {
      authorize: { request: authorizeBytes, response: 0 },
      settle: { request: 0, response: 0 },
    };
    const settleLatencies: number[] = [];
    for (let r = -1; r < ROUNDS; r++) {
      // Round -1 warms up the backend as the echo was (JIT, heaps, HTTP/2 windows) and is not reported.
      const slice = await prepare(r < 0 ? warmUp : o.calls);
      await quiet();
      const echoRun = await timed(
        slice,
        (i) => callRaw(echo.asAuthorize.bind(echo), authorizeWire[i]!),
        roles,
      );
      let before = await commits();
      const answers: Buffer[] = [];
      const authRun = await timed(
        slice,
        async (i) => (answers[i] = await callRaw(backend.authorize.bind(backend), authorizeWire[i]!)),
        roles,
      );
      let after = await commits();
      for (const i of slice) responses[i] = AuthorizeResponse.decode(answers[i]!);
      const approved = slice.filter((i) => responses[i]?.approved).length;
      if (approved !== slice.length) throw new Error(`authorize: ${approved}/${slice.length} approved`);
      const authorizeRun: Backend = {
        ...authRun,
        perCommit: (after.transactions - before.transactions) / Math.max(1, after.commits - before.commits),
        perMessage: perMessage(before, after),
      };
      const settleReqs: SettleRequest[] = slice.map((i) => {
        const a = authorizeReqs[i]!;
        const card = cards[i % cards.length]!;
        const amount = { minor: 100 + (i % 50), currency: 'EUR' };
        return {
          terminalId: 'T-0001',
          terminalTxnId: `bench-${i}`,
          merchantId: 'M-0001',
          authorizationRef: responses[i]!.authorizationRef,
          card: a.card,
          amount,
          items: [{ sku: 'gum', name: 'Gum', quantity: 1, unitPriceMinor: amount.minor }],
          cryptogram: card.arqc(amount, a.unpredictableNumber),
        };
      });
      const settleWire = settleReqs.map((req) => Buffer.from(SettleRequest.encode(req).finish()));
      await quiet();
      const echoSettleRun = await timed(
        settleWire.map((_, k) => k),
        (k) => callRaw(echo.asSettle.bind(echo), settleWire[k]!),
        roles,
      );
      const settled: Buffer[] = [];
      before = await commits();
      const settleRun = await timed(
        settleWire.map((_, k) => k),
        async (k) => (settled[k] = await callRaw(backend.settle.bind(backend), settleWire[k]!)),
        roles,
      );
      after = await commits();
      for (const b of settled) {
        const res = SettleResponse.decode(b);
        if (!res.approved) throw new Error(`settle declined: ${res.declineReason}`);
      }
      // The round's requests and answers are let go: kept, they grew the heap that the servers share
      // with this client by a few MB a round, and later rounds ran slower (longer major GCs).
      for (const i of slice) authorizeReqs[i] = authorizeWire[i] = responses[i] = undefined;
      if (r < 0) {
        if (o.postgres) await analyze(o.postgres.url);
        sizes.authorize.response = medianSize(slice.map((i) => answers[i]!));
        sizes.settle = { request: medianSize(settleWire), response: medianSize(settled) };
        answer.asAuthorize = Buffer.alloc(sizes.authorize.response, 7);
        answer.asSettle = Buffer.alloc(sizes.settle.response, 7);
        continue;
      }
      settleLatencies.push(...settleRun.latencies);
      rounds.push({
        echo: echoRun,
        echoSettle: echoSettleRun,
        authorize: authorizeRun,
        settle: {
          ...settleRun,
          perCommit: (after.transactions - before.transactions) / Math.max(1, after.commits - before.commits),
          perMessage: perMessage(before, after),
        },
      });
    }
    const cpu = (r: { cpuMsPerCall: number }) => Number(r.cpuMsPerCall.toFixed(3));
    const threads = (r: { threads?: Record<string, number> }) =>
      r.threads ? { threads_us_per_call: r.threads } : {};
    const median = <T>(xs: T[], by: (x: T) => number): T =>
      [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)]!;
    const baselines = { authorize: 'echo', settle: 'echoSettle' } as const;
    const echoMid = {
      echo: median(
        rounds.map((r) => r.echo),
        (r) => r.perSecond,
      ),
      echoSettle: median(
        rounds.map((r) => r.echoSettle),
        (r) => r.perSecond,
      ),
    };
    const pg = o.postgres;
    if (!pg)
      for (const [bench, key, sz] of [
        ['echo_per_s', 'echo', sizes.authorize],
        ['echo_settle_per_s', 'echoSettle', sizes.settle],
      ] as const) {
        const mid = echoMid[key];
        report({
          bench,
          value: mid.perSecond,
          unit: 'calls/s',
          concurrency: CONCURRENCY,
          request_bytes: sz.request,
          response_bytes: sz.response,
          rounds: rounds.map((r) => Math.round(r[key].perSecond)),
          cpu_ms_per_call: cpu(mid),
          ...threads(mid),
        });
      }
    const figures: Record<'authorize' | 'settle', number> = { authorize: 0, settle: 0 };
    for (const name of ['authorize', 'settle'] as const) {
      const mid = median(
        rounds.map((r) => r[name]),
        (r) => r.perSecond,
      );
      figures[name] = mid.perSecond;
      const echoRatios = rounds.map((r) => r[name].perSecond / r[baselines[name]].perSecond);
      report({
        bench: `${pg ? 'pg_' : ''}${name}_per_s`,
        value: mid.perSecond,
        unit: 'calls/s',
        // SQLite's figures against the echo of the same sizes; PostgreSQL's against SQLite's run.
        ...(pg
          ? { baseline: pg.sqlite[name], ratio: mid.perSecond / pg.sqlite[name], baseline_is: 'sqlite' }
          : { baseline: echoMid[baselines[name]].perSecond, ratio: median(echoRatios, (x) => x) }),
        rounds: rounds.map((r) => Math.round(r[name].perSecond)),
        ...(pg
          ? { echo_ratio: Number(median(echoRatios, (x) => x).toFixed(3)) }
          : { round_ratios: echoRatios.map((x) => Number(x.toFixed(3))) }),
        concurrency: CONCURRENCY,
        ...(pg
          ? { store: 'postgresql', durability: 'fsync on, synchronous_commit on' }
          : { store: 'sqlite', synchronous: 'FULL' }),
        worker,
        crypto_workers: f.backend.cryptoWorkers,
        cpu_ms_per_call: cpu(mid),
        ...threads(mid),
        ...('perCommit' in mid && !pg ? { per_commit: Number(mid.perCommit.toFixed(1)) } : {}),
        ...(mid.perMessage
          ? {
              calls_per_message: {
                to_worker: Number(mid.perMessage.to.toFixed(1)),
                back: Number(mid.perMessage.back.toFixed(1)),
              },
            }
          : {}),
      });
    }
    const settleP99Ms = percentile(
      settleLatencies.sort((a, b) => a - b),
      99,
    );
    report({
      bench: `${pg ? 'pg_' : ''}settle_p99_ms`,
      value: settleP99Ms,
      unit: 'ms',
      ...(pg ? { baseline: pg.sqlite.settleP99Ms } : {}),
    });
    const sums = await f.backend.store.read((tx) => tx.ledgerSumsByCurrency());
    if (Object.values(sums).some((v) => v !== 0)) throw new Error('ledger does not sum to zero');
    return { ...figures, settleP99Ms };
  } finally {
    echoServer.forceShutdown();
    backend.close();
    await f.close();
  }
}
