/**
 * The cluster fault suites' rig, on real parts: `bluetill-backend serve` processes over one
 * PostgreSQL store URL (a single server, or the pg_auto_failover cluster's multi-host URL), and
 * tills' gRPC clients (mutual TLS, each with its own terminal certificate and fleet card) balancing
 * every call over the nodes, paying in a loop with real card cryptography (DDA over the UN, the
 * sealed PIN, the ARQC over the amount).
 *
 * A till does what the till core does with an outcome it does not know: it asks (GetSettlement),
 * and when the card company has nothing it cancels the payment (a signed cancellation; the
 * cryptogram can never settle later) and pays the basket again under a new id. `checkBooks` then
 * reads the ledger against what the tills were told: every acknowledged settlement in it once, no
 * basket charged twice, every currency's postings summing to zero.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
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
import { TestCard } from '../../backend/src/test-support/test-card';

const CLI = resolve(import.meta.dirname, '../../backend/bin/bluetill-backend.mjs');
/** A node's start, from spawn to listening (a starved 2-core machine takes seconds; serve waits up to 60 s for its database). */
const START_MS = 90_000;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What tills need to pay: the registry's TLS material and root, each till's card, the nodes' addresses. */
export interface TillLoad {
  readonly seed: SeededBackend;
  /** Till i's fleet card, one instance per load: its ATC moves on across runs. */
  card(i: number): TestCard;
  /** host:port of every node the tills balance over (read when each till starts). */
  addresses(): readonly string[];
  /** Each call's deadline (default 2 s). */
  readonly deadlineMs?: number;
}

/** Till i's fleet card from a seeded registry (card-fleet-00i+1, PIN 1001 + i), one instance per index. */
export function fleetCardsOf(seed: SeededBackend): (i: number) => TestCard {
  const cards = new Map<number, TestCard>();
  return (i) => {
    let c = cards.get(i);
    if (!c) {
      c = TestCard.fromFile(join(seed.cardsDir, `card-fleet-${String(i + 1).padStart(3, '0')}.json`));
      cards.set(i, c);
    }
    return c;
  };
}

export interface ClusterRig extends TillLoad {
  /** Each node's gRPC port (kept across restarts). */
  readonly ports: readonly number[];
  /** Starts node i on its port (any free one the first time), over `url` (default: the rig's store URL). */
  startNode(i: number, url?: string): Promise<void>;
  /** kill -9 of node i, waiting for its exit. */
  killNode(i: number): Promise<void>;
  /** The running process of node i (its pid names its PostgreSQL sessions: `bluetill-backend <pid>`). */
  node(i: number): ChildProcess | undefined;
  close(): Promise<void>;
}

/** Seeds the registry into the store at `url` (TILLS terminals and fleet cards) and starts `nodes` nodes on it. */
export async function startClusterRig(o: { url: string; nodes: number; tills: number }): Promise<ClusterRig> {
  const masterKey = MasterKey.generate();
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-cluster-'));
  const ports: number[] = Array.from({ length: o.nodes }, () => 0);
  const nodes: Array<ChildProcess | undefined> = Array.from({ length: o.nodes }, () => undefined);
  const terminals = Array.from({ length: o.tills }, (_, i) => terminalOf(i)).slice(1);
  // Each till pays with its own card, as fast as the cluster answers, for the whole run: a credit
  // line no run can spend (a fleet card's €1,000 lasts ~330 payments), so every decline is a fault.
  const cards = fleetCards(o.tills).map((c) => ({ ...c, creditLimitMinor: 10_000_000_00 }));
  const seed = await seedDemo(dir, terminals, cards, {
    masterKey,
    store: parseStoreSpec(o.url),
  });

  const startNode = async (i: number, url = o.url): Promise<void> => {
    const c = spawn(
      process.execPath,
      [CLI, 'serve', '--dir', dir, '--store', url, '--port', String(ports[i]), '--shopper-port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BLUETILL_MASTER_KEY: masterKey.toBase64() },
      },
    );
    nodes[i] = c;
    let err = '';
    c.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    let out = '';
    ports[i] = await new Promise<number>((ok, fail) => {
      // A node that neither listens nor exits in time is a failure with what it said so far.
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        fail(new Error(`node ${i} did not listen within ${START_MS} ms: ${out.slice(-2000)} ${err}`));
      }, START_MS);
      c.stdout!.on('data', (d: Buffer) => {
        out = (out + d.toString()).slice(-4000);
        const m = /listening on [^\s:]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          ok(Number(m[1]));
        }
      });
      c.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`node ${i} exited (${code ?? signal}): ${err}`));
      });
    });
  };
  const killNode = async (i: number): Promise<void> => {
    const c = nodes[i];
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise((ok) => c.once('exit', ok));
    c.kill('SIGKILL');
    await gone;
    nodes[i] = undefined;
  };
  // One after the other the first time: the first migrates the new database.
  try {
    for (let i = 0; i < o.nodes; i++) await startNode(i);
  } catch (e) {
    for (let i = 0; i < o.nodes; i++) await killNode(i);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    seed,
    ports,
    startNode,
    killNode,
    node: (i) => nodes[i],
    card: fleetCardsOf(seed),
    addresses: () => ports.map((p) => `localhost:${p}`),
    async close() {
      for (let i = 0; i < o.nodes; i++) {
        nodes[i]?.kill('SIGCONT');
        await killNode(i);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const terminalOf = (i: number): string => `T-${String(i + 1).padStart(4, '0')}`;

export interface TillFacts {
  readonly terminalId: string;
  /** Settlements the till was told were approved (terminal/txn) and when. */
  readonly acknowledged: { readonly key: string; readonly at: number }[];
  /** Calls that failed after the client's attempts over every node, by code and time (BackendError). */
  readonly failures: { readonly code: string; readonly at: number }[];
  /** Outcomes the till did not know and asked about; those still unknown after asking. */
  asked: number;
  unresolved: number;
}

/** Settlements acknowledged so far, across the tills (runs last until there are enough). */
export interface Progress {
  acknowledged: number;
}

/**
 * Tills 0…n-1 paying basket after basket until `stop.now`, each with its own card. Terminal txn
 * ids are `<terminal>-<run><basket>-<attempt>`: give each run over the same database its own `run`.
 */
export function runTills(
  rig: TillLoad,
  tills: number,
  stop: { now: boolean },
  progress: Progress,
  run = '',
): Promise<TillFacts[]> {
  return Promise.all(Array.from({ length: tills }, (_, i) => till(rig, i, stop, progress, run)));
}

async function till(
  rig: TillLoad,
  index: number,
  stop: { now: boolean },
  progress: Progress,
  run: string,
): Promise<TillFacts> {
  const terminalId = terminalOf(index);
  const card = rig.card(index);
  const pin = String(1001 + index);
  const client = new GrpcBackendClient({
    authorizationAddress: [...rig.addresses()],
    terminalId,
    tls: readTerminalTls(rig.seed.tlsDir, terminalId),
    deadlineMs: rig.deadlineMs ?? 2_000,
    attempts: 3,
    backoffMs: 100,
    log: { warn: () => undefined, info: () => undefined },
  });
  const root = publicKeyFromRaw(Buffer.from(rig.seed.trust.cardCompanyRoot, 'base64'));
  const facts: TillFacts = { terminalId, acknowledged: [], failures: [], asked: 0, unresolved: 0 };
  const failed = (e: unknown): void => {
    if (!(e instanceof BackendError)) throw e;
    facts.failures.push({ code: e.code, at: Date.now() });
  };
  try {
    for (let basket = 0; !stop.now; basket++) {
      const minor = 100 + ((basket * 37 + index) % 400);
      const items: Item[] = [{ sku: `b${basket}`, name: 'Goods', quantity: 1, unitPriceMinor: minor }];
      const amount = { minor, currency: 'EUR' };
      for (let attempt = 0; !stop.now; attempt++) {
        const txn = `${terminalId}-${run}${basket}-${attempt}`;
        let outcome: SettleResponse | null | 'unknown';
        let request: Parameters<GrpcBackendClient['settle']>[0] | undefined;
        try {
          const ch = await client.challenge();
          const un = ch.unpredictableNumber;
          const pinKey = verifyCertificate(ch.pinKeyCertificate, root, {
            role: 'pin-key',
            now: Date.now(),
          });
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
          failed(e);
          await sleep(50);
          continue;
        }
        try {
          outcome = await client.settle(request);
        } catch (e) {
          failed(e);
          outcome = 'unknown';
        }
        if (outcome === 'unknown') {
          // The till's rule: ask; if the card company has nothing, cancel it for good, then pay again.
          facts.asked++;
          outcome = await resolveByAsking(client, request, facts);
          if (outcome === 'unknown') {
            facts.unresolved++;
            break;
          }
        }
        if (outcome?.approved) {
          facts.acknowledged.push({ key: `${terminalId}/${txn}`, at: Date.now() });
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

const ASK_MS = 60_000;

/** GetSettlement until a node answers (for ASK_MS at most); NOT_FOUND → a signed cancellation (the stored answer wins a race). */
async function resolveByAsking(
  client: GrpcBackendClient,
  request: Parameters<GrpcBackendClient['settle']>[0],
  facts: TillFacts,
): Promise<SettleResponse | null | 'unknown'> {
  // Long enough for a failover (the monitor promotes in ~10 s) and a node's restart.
  for (const until = Date.now() + ASK_MS; Date.now() < until;) {
    try {
      const found = await client.getSettlement(request.terminalTxnId);
      if (found) return found;
      return await client.cancel({ ...request, reason: 'cancelled' });
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
      facts.failures.push({ code: e.code, at: Date.now() });
      await sleep(250);
    }
  }
  return 'unknown';
}

export interface Books {
  readonly payments: number;
  /** Acknowledged settlements not in the ledger exactly once (approved). */
  readonly lost: number;
  /** Baskets with two approved settlements. */
  readonly doubleCharges: number;
  readonly unresolved: number;
  /** Σ |Σ postings| over the currencies. */
  readonly ledgerSum: number;
  readonly asked: number;
  /** Where the books were read: the server's port and whether it is a standby. */
  readonly server: { readonly port: number; readonly recovery: boolean };
}

/** The ledger at `url` against what the tills were told. */
export async function checkBooks(url: string, facts: readonly TillFacts[]): Promise<Books> {
  const acknowledged = facts.flatMap((f) => f.acknowledged.map((a) => a.key));
  const sql = postgres(url, { max: 1, onnotice: () => undefined, connect_timeout: 10 });
  try {
    const [server] = await sql<{ port: number; recovery: boolean }[]>`
      SELECT inet_server_port() AS port, pg_is_in_recovery() AS recovery`;
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
    const sums = await sql<{ currency: string; s: string }[]>`
      SELECT currency, SUM(amount_minor)::text AS s FROM postings GROUP BY currency`;
    return {
      payments: acknowledged.length,
      lost,
      doubleCharges: [...perBasket.values()].filter((n) => n > 1).length,
      unresolved: facts.reduce((a, f) => a + f.unresolved, 0),
      ledgerSum: sums.reduce((a, r) => a + Math.abs(Number(r.s)), 0),
      asked: facts.reduce((a, f) => a + f.asked, 0),
      server: { port: server!.port, recovery: server!.recovery },
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The invariants every cluster run must keep, as one object for one assertion. */
export const invariants = (b: Books) => ({
  lost: b.lost,
  doubleCharges: b.doubleCharges,
  unresolved: b.unresolved,
  ledgerSum: b.ledgerSum,
});
export const KEPT = { lost: 0, doubleCharges: 0, unresolved: 0, ledgerSum: 0 } as const;

/** Failures the tills saw, by code, from `from` to `to` (ms since the epoch). */
export function failuresIn(facts: readonly TillFacts[], from = 0, to = Infinity): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of facts)
    for (const x of f.failures) if (x.at >= from && x.at <= to) out[x.code] = (out[x.code] ?? 0) + 1;
  return out;
}

/** Payments acknowledged from `from` to `to`. */
export const paidIn = (facts: readonly TillFacts[], from: number, to: number): number =>
  facts.reduce((n, f) => n + f.acknowledged.filter((a) => a.at >= from && a.at <= to).length, 0);
