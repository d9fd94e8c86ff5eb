/**
 * The attack and crash rig: one seeded backend (in this process with an injectable clock, or as a
 * child process `bluetill-backend serve` that the test can kill with SIGKILL and restart on the
 * same SQLite file), N tills (terminals T-0001 … T-000N of merchant M-0001, each with its own
 * in-memory radio, mutual-TLS gRPC client and SQLite journal), and phones that pay at a till with
 * their simulated EMV card, whose messages the test may edit. A till can be restarted on its
 * journal file; its gRPC traffic can go through a TCP proxy that loses responses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import {
  DEMO_CARDS,
  DEMO_MERCHANT,
  MasterKey,
  fleetCards,
  issueTerminalIdentity,
  loadIssuer,
  readKeysFile,
  readTerminalTls,
  seedDemo,
  startBackend,
  type KeyMaterial,
  type RunningBackend,
  type SeededBackend,
  type TerminalIdentity,
} from '@bluetill/backend';
import type { NewCard } from '../../backend/src/admin/registry';
import {
  GrpcBackendClient,
  composeTill,
  type Till,
  type BackendClient,
  type BlePeripheral,
  type Journal,
  type PeripheralLink,
  type TillEvent,
  type OfflineDesk,
} from '@bluetill/pos-terminal';
import type { OfflinePolicyLimits } from '../../pos-terminal/src/common/offline/offline-policy';
import {
  pay,
  retrieveReceipt,
  type CentralLink,
  type PaymentCard,
  type PaymentOutcome,
  type PayOptions,
  type ResumeTicket,
} from '@bluetill/phone-agent';
import { AutoPrompt, InMemoryRadio, phoneCardFromFile } from '@bluetill/simulator';
import { publicKeyFromRaw, type Item } from '@bluetill/protocol';

const CLI = resolve(import.meta.dirname, '..', '..', 'backend', 'bin', 'bluetill-backend.mjs');

/** A clock the test can move forward (the backend's, when it runs in this process). */
export class TestClock {
  offsetMs = 0;
  now = (): number => Date.now() + this.offsetMs;
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface RigOptions {
  readonly tills?: number;
  /** 'process': `bluetill-backend serve` as a child process (killable); default in this process. */
  readonly backend?: 'in-process' | 'process';
  /**
   * With 'process': how many `serve` nodes over the one SQLite file (default 1), each on its own
   * port (kept across restarts); the tills balance over all of them.
   */
  readonly nodes?: number;
  readonly fleetCards?: number;
  /** More cards seeded at the backend (with their personalization files), e.g. cards that approve offline. */
  readonly extraCards?: readonly NewCard[];
  /**
   * Offline mode on every till: the merchant's limits (the CA keys are the seed's) and the cards on
   * the tills' block-list copy.
   */
  readonly offline?: {
    readonly limits: OfflinePolicyLimits;
    readonly blockCards?: ReadonlyArray<{ readonly pan: string; readonly psn: number }>;
  };
  /** EMV RSA key sizes of the seeded issuer (default: the seed's demo sizes). */
  readonly emvKeyBits?: { readonly ca: number; readonly issuer: number; readonly icc: number };
  readonly deadlineMs?: number;
  readonly attempts?: number;
  /** Wraps each till's backend client and journal (fault injection); `till` is its index. */
  readonly wrap?: (
    till: number,
    parts: { backend: BackendClient; journal: Journal },
  ) => { backend: BackendClient; journal: Journal };
  /** host:port each till's gRPC client uses instead of the backend's (a proxy in front of it). */
  readonly via?: (till: number, backendAddress: string) => string;
}

export interface RigTill {
  readonly index: number;
  readonly terminalId: string;
  readonly identity: TerminalIdentity;
  readonly journalPath: string;
  readonly events: TillEvent[];
  /** The till's offline mode (RigOptions.offline), else null. */
  readonly offline: OfflineDesk | null;
  till: Till;
  radio: InMemoryRadio;
  journal: Journal;
  client: GrpcBackendClient;
}

export interface PhoneRunOptions {
  readonly tamper?: PayOptions['tamper'];
  /** Another card than the demo card's simulated EMV card (a wrapped or forged one). */
  readonly card?: PaymentCard;
  /** Sees every value the phone writes and every value it receives (after the fact, on the radio). */
  readonly spy?: { onWrite?(v: Uint8Array): void; onNotify?(v: Uint8Array): void };
  /** Reconnect and ask after a lost link (default true). */
  readonly resume?: boolean;
  readonly answerTimeoutMs?: number;
  /** How the cardholder is verified (default the online PIN). */
  readonly cvm?: PayOptions['cvm'];
}

export interface PhoneRun {
  readonly outcome: PaymentOutcome;
  readonly beforeResume?: PaymentOutcome;
}

export interface Rig {
  readonly dir: string;
  readonly masterKey: MasterKey;
  /** The tills' till key (journal keys derive from it per terminal), as BLUETILL_TILL_KEY would give it. */
  readonly tillKey: Uint8Array;
  readonly seed: SeededBackend;
  readonly material: KeyMaterial;
  readonly clock: TestClock;
  readonly tills: RigTill[];
  readonly trust: PayOptions['trust'];
  /** host:port of the backend now (the same port across restarts); node 0's with several. */
  address(): string;
  /** host:port of every node. */
  addresses(): string[];
  /** Node i's process (undefined while it is not running). */
  node(i: number): ChildProcess | undefined;
  /** Sends node i a signal; resolves with its exit (code, signal) for SIGKILL/SIGTERM/SIGINT once it is gone. */
  signalNode(
    i: number,
    signal: NodeJS.Signals,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Starts node i again on its port (`args`: more `serve` options). */
  startNode(i: number, args?: readonly string[]): Promise<void>;
  /** Node i's output (standard error: its JSON log; standard output), since it last started. */
  nodeOutput(i: number): string;
  /** The running in-process backend (undefined when it runs as a child process). */
  inProcess(): RunningBackend | undefined;
  /** The demo card's own simulated EMV card (one per card id, its ATC moves forward). */
  card(cardId: string): Promise<PaymentCard>;
  cardFile(cardId: string): string;
  phonePays(till: number, cardId: string, pin: string, o?: PhoneRunOptions): Promise<PhoneRun>;
  /** A phone whose link was lost after its Payment asks the till what became of it (resume ticket). */
  phoneAsks(till: number, ticket: ResumeTicket): Promise<PaymentOutcome>;
  /** The same phone at any till on `radio` (a fake till, for example). */
  phonePaysOn(radio: InMemoryRadio, cardId: string, pin: string, o?: PhoneRunOptions): Promise<PhoneRun>;
  ringUp(till: number, items: readonly Item[]): string;
  /** SIGKILL of the child process (or a hard stop in process); resolves once it is gone. */
  killBackend(): Promise<void>;
  startBackend(): Promise<void>;
  /** The till process dies: its journal and client are dropped without another write; a new till opens the same journal file. */
  restartTill(index: number): Promise<RigTill>;
  /** A read-only view of the backend's SQLite file (opened per call). */
  query<T>(sql: string, ...params: unknown[]): T[];
  /** Whether the backend's SQLite file can be written now: its write lock is free (a BEGIN IMMEDIATE with no wait, rolled back). */
  writeLockFree(): boolean;
  close(): Promise<void>;
}

export async function startRig(o: RigOptions = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-faults-'));
  const tillCount = o.tills ?? 1;
  const terminalIds = Array.from({ length: tillCount }, (_, i) => `T-${String(i + 1).padStart(4, '0')}`);
  const masterKey = MasterKey.generate();
  const tillKey = new Uint8Array(randomBytes(32));
  const extra = [...fleetCards(o.fleetCards ?? 0), ...(o.extraCards ?? [])];
  // At least T-0001 … T-0003 are registered, so that a till can be "another till" of the same merchant.
  const registered = [...new Set([...terminalIds, 'T-0002', 'T-0003'])].filter((id) => id !== 'T-0001');
  const seed = await seedDemo(dir, registered, extra, {
    masterKey,
    ...(o.emvKeyBits ? { emvKeyBits: o.emvKeyBits } : {}),
  });
  const material = readKeysFile(seed.keysPath, masterKey);
  const clock = new TestClock();
  const trust = {
    acquirerCa: publicKeyFromRaw(Buffer.from(seed.trust.acquirerCa, 'base64')),
    cardCompanyRoot: publicKeyFromRaw(Buffer.from(seed.trust.cardCompanyRoot, 'base64')),
  };
  const nodeCount = o.backend === 'process' ? (o.nodes ?? 1) : 1;
  const ports: number[] = Array.from({ length: nodeCount }, () => 0);
  const children: Array<ChildProcess | undefined> = Array.from({ length: nodeCount }, () => undefined);
  const outputs: string[] = Array.from({ length: nodeCount }, () => '');
  let inProcess: RunningBackend | undefined;
  let childLog: WriteStream | undefined;
  const logPath = join(dir, 'backend.log');
  // In process, the backend logs (pino, JSON) to backend.log as the child's stdout would.
  const logger = pino({ level: 'info' }, pino.destination({ dest: logPath, sync: true, append: true }));

  async function startNode(i: number, extra: readonly string[] = []): Promise<void> {
    childLog ??= createWriteStream(logPath, { flags: 'a' });
    const args = [CLI, 'serve', '--dir', dir, '--port', String(ports[i]), ...extra];
    // Several nodes: any free shopper port (port + 1 may be another node's).
    if (nodeCount > 1) args.push('--shopper-port', '0');
    const c = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BLUETILL_MASTER_KEY: masterKey.toBase64() },
    });
    children[i] = c;
    outputs[i] = '';
    c.stderr!.on('data', (d: Buffer) => {
      childLog!.write(d);
      outputs[i] += d.toString();
    });
    ports[i] = await new Promise<number>((res, rej) => {
      let out = '';
      const onData = (d: Buffer) => {
        childLog!.write(d);
        outputs[i] += d.toString();
        out += d.toString();
        const m = out.match(/listening on [^\s:]+:(\d+)/);
        if (m) res(Number(m[1]));
      };
      c.stdout!.on('data', onData);
      c.once('exit', (code, signal) =>
        rej(new Error(`bluetill-backend serve exited (${code ?? signal}) before listening`)),
      );
    });
  }

  async function startBackendNow(): Promise<void> {
    if (o.backend === 'process') {
      // One after the other: each node opens (and migrates) the shared file before the next.
      for (let i = 0; i < nodeCount; i++) await startNode(i);
    } else {
      inProcess = await startBackend({
        dbPath: seed.dbPath,
        keysPath: seed.keysPath,
        masterKey,
        logger,
        clock,
        port: ports[0],
      });
      ports[0] = inProcess.port;
    }
  }
  await startBackendNow();
  const address = () => `127.0.0.1:${ports[0]}`;
  const addresses = () => ports.map((p) => `127.0.0.1:${p}`);
  async function signalNode(i: number, signal: NodeJS.Signals) {
    const c = children[i];
    if (!c || c.exitCode !== null || c.signalCode !== null)
      return { code: c?.exitCode ?? null, signal: c?.signalCode ?? null };
    const gone = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      // 'close', not 'exit': its output has been read by then.
      c.once('close', (code, sig) => r({ code, signal: sig })),
    );
    c.kill(signal);
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && signal !== 'SIGINT')
      return { code: null, signal: null };
    const exit = await gone;
    if (children[i] === c) children[i] = undefined;
    return exit;
  }

  const identities = terminalIds.map((terminalId, i) =>
    i === 0
      ? seed.terminal
      : issueTerminalIdentity(material, {
          terminalId,
          merchantId: DEMO_MERCHANT.id,
          merchantName: DEMO_MERCHANT.name,
        }),
  );

  async function composeRigTill(
    index: number,
    events: TillEvent[],
  ): Promise<Omit<RigTill, 'events' | 'index' | 'terminalId' | 'identity' | 'journalPath'>> {
    const terminalId = terminalIds[index]!;
    const client = new GrpcBackendClient({
      authorizationAddress: nodeCount > 1 ? addresses() : o.via ? o.via(index, address()) : address(),
      terminalId,
      tls: readTerminalTls(seed.tlsDir, terminalId),
      deadlineMs: o.deadlineMs ?? 3_000,
      attempts: o.attempts ?? 2,
      backoffMs: 100,
    });
    const radio = new InMemoryRadio();
    // The till's BLE links, so that a till "process" that dies drops them (as the radio would).
    const peripheral = radio.peripheral();
    const links = new Set<PeripheralLink>();
    const tracked: BlePeripheral = {
      start: (opts) => peripheral.start(opts),
      stop: () => peripheral.stop(),
      onConnect: (h) =>
        peripheral.onConnect((l) => (links.add(l), l.onDisconnect(() => links.delete(l)), h(l))),
    };
    droppers.set(index, async () => {
      for (const l of [...links]) await l.disconnect().catch(() => undefined);
    });
    // The till as pos-terminal composes it; the rig puts in its radio, its client, its journal file
    // and the fault injection, and starts the till itself.
    const blocked = new Set<string>();
    const composed = await composeTill(
      {
        terminal: identities[index]!,
        dataDir: dir,
        counterName: `Counter ${index + 1}`,
        currency: DEMO_MERCHANT.currency,
        tillKey,
        printer: 'none',
        ...(o.offline
          ? {
              offline: {
                limits: o.offline.limits,
                caKeys: (() => {
                  const issuer = loadIssuer(material.emv);
                  return new Map([[issuer.ca.index, issuer.ca.publicKey]]);
                })(),
                blockList: { has: (key: string) => blocked.has(key) },
              },
            }
          : {}),
      },
      {
        backend: client,
        peripheral: tracked,
        journalPath: join(dir, `till-${terminalId}.sqlite`),
        tillDbPath: ':memory:',
        resolveEveryMs: 0,
        keepBaskets: false,
        start: false,
        ...(o.wrap
          ? { wrap: (parts: { backend: BackendClient; journal: Journal }) => o.wrap!(index, parts) }
          : {}),
      },
    );
    const till = composed.till;
    for (const c of o.offline?.blockCards ?? []) blocked.add(composed.offline!.cardKey(c.pan, c.psn));
    till.onEvent((e) => events.push(e));
    // The till's structured log, as the composition roots write it (every event), scanned for card data.
    const tillLog =
      tillLoggers.get(terminalId) ??
      pino(
        { level: 'debug' },
        pino.destination({ dest: join(dir, `till-${terminalId}.log`), sync: true, append: true }),
      );
    tillLoggers.set(terminalId, tillLog);
    till.onEvent((e) => tillLog.info({ terminalId, ...e }, e.type));
    return { till, radio, journal: composed.journal, client, offline: composed.offline };
  }

  const tills: RigTill[] = [];
  const droppers = new Map<number, () => Promise<void>>();
  const tillLoggers = new Map<string, pino.Logger>();
  for (let i = 0; i < tillCount; i++) {
    const events: TillEvent[] = [];
    const t: RigTill = {
      index: i,
      terminalId: terminalIds[i]!,
      identity: identities[i]!,
      journalPath: join(dir, `till-${terminalIds[i]}.sqlite`),
      events,
      ...(await composeRigTill(i, events)),
    };
    await t.till.start();
    tills.push(t);
  }

  const allCards = [...DEMO_CARDS, ...extra];
  const cards = new Map<string, PaymentCard>();
  const cardFile = (cardId: string) => {
    if (!allCards.some((c) => c.id === cardId)) throw new Error(`no demo card ${cardId}`);
    return join(seed.cardsDir, `${cardId}.json`);
  };
  const card = async (cardId: string) => {
    let c = cards.get(cardId);
    if (!c) cards.set(cardId, (c = (await phoneCardFromFile(cardFile(cardId))).paymentCard));
    return c;
  };

  const rig: Rig = {
    dir,
    masterKey,
    tillKey,
    seed,
    material,
    clock,
    tills,
    trust,
    address,
    addresses,
    node: (i) => children[i],
    signalNode,
    startNode,
    nodeOutput: (i) => outputs[i] ?? '',
    inProcess: () => inProcess,
    card,
    cardFile,
    ringUp: (till, items) => tills[till]!.till.baskets.add(items).id,
    phonePays(till, cardId, pin, po = {}) {
      return rig.phonePaysOn(tills[till]!.radio, cardId, pin, po);
    },
    async phoneAsks(till, ticket) {
      const central = tills[till]!.radio.central();
      const link = await central.connect('till');
      try {
        return await retrieveReceipt({ link, trust, ticket, now: clock.now });
      } finally {
        await link.disconnect().catch(() => undefined);
      }
    },
    async phonePaysOn(radio, cardId, pin, po = {}) {
      const central = radio.central();
      const found = await central.scan({ timeoutMs: 2_000 });
      if (found.length === 0) throw new Error('no till found');
      const connected = await central.connect(found[0]!.id);
      const link: CentralLink = po.spy
        ? {
            get mtu() {
              return connected.mtu;
            },
            write: async (v, wo) => {
              po.spy!.onWrite?.(v);
              await connected.write(v, wo);
            },
            readInfo: () => connected.readInfo(),
            onValue: (h) =>
              connected.onValue((v) => {
                po.spy!.onNotify?.(v);
                h(v);
              }),
            onDisconnect: (h) => connected.onDisconnect(h),
            disconnect: () => connected.disconnect(),
          }
        : connected;
      const prompt = new AutoPrompt({ pin });
      try {
        const outcome = await pay({
          link,
          card: po.card ?? (await card(cardId)),
          prompt,
          trust,
          now: clock.now,
          ...(po.tamper ? { tamper: po.tamper } : {}),
          ...(po.answerTimeoutMs ? { answerTimeoutMs: po.answerTimeoutMs } : {}),
          ...(po.cvm ? { cvm: po.cvm } : {}),
        });
        if (outcome.kind === 'failed' && outcome.resume && po.resume !== false) {
          await connected.disconnect().catch(() => undefined);
          const again = await radio.central().connect(found[0]!.id);
          try {
            return {
              outcome: await retrieveReceipt({ link: again, trust, ticket: outcome.resume, now: clock.now }),
              beforeResume: outcome,
            };
          } finally {
            await again.disconnect().catch(() => undefined);
          }
        }
        return { outcome };
      } finally {
        await connected.disconnect().catch(() => undefined);
      }
    },
    async killBackend() {
      if (o.backend === 'process') {
        for (let i = 0; i < nodeCount; i++) {
          await signalNode(i, 'SIGKILL');
        }
      } else if (inProcess) {
        inProcess.kill();
        inProcess = undefined;
      }
    },
    startBackend: startBackendNow,
    async restartTill(index) {
      const old = tills[index]!;
      // The process is gone: its BLE links drop, no clean shutdown of its sessions, no further journal write.
      await droppers.get(index)?.();
      await old.till.stop().catch(() => undefined);
      old.client.close();
      old.journal.close();
      const fresh: RigTill = { ...old, ...(await composeRigTill(index, old.events)) };
      tills[index] = fresh;
      await fresh.till.start();
      return fresh;
    },
    query<T>(sql: string, ...params: unknown[]): T[] {
      const db = new Database(seed.dbPath, { readonly: true, fileMustExist: true });
      try {
        return db.prepare(sql).all(...params) as T[];
      } finally {
        db.close();
      }
    },
    writeLockFree(): boolean {
      const db = new Database(seed.dbPath, { fileMustExist: true, timeout: 0 });
      try {
        db.exec('BEGIN IMMEDIATE');
        db.exec('ROLLBACK');
        return true;
      } catch (e) {
        if ((e as { code?: string }).code?.startsWith('SQLITE_BUSY')) return false;
        throw e;
      } finally {
        db.close();
      }
    },
    async close() {
      for (const t of tills) {
        await t.till.stop().catch(() => undefined);
        t.client.close();
        try {
          t.journal.close();
        } catch {
          /* already closed by a restart */
        }
      }
      if (inProcess) await inProcess.close().catch(() => undefined);
      inProcess = undefined;
      await rig.killBackend();
      childLog?.end();
      logger.flush?.();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Sum over every ledger entry (must be 0), and the approved settlements with their postings. */
export function ledgerFacts(rig: Rig): {
  sum: number;
  postings: number;
  approved: number;
  perTxn: Map<string, number>;
} {
  const sum = rig.query<{ s: number | null }>('SELECT SUM(amount_minor) AS s FROM postings')[0]!.s ?? 0;
  const postings = rig.query<{ n: number }>('SELECT COUNT(*) AS n FROM postings')[0]!.n;
  const rows = rig.query<{ terminal_id: string; terminal_txn_id: string; approved: number }>(
    'SELECT terminal_id, terminal_txn_id, approved FROM settlements',
  );
  const perTxn = new Map<string, number>();
  for (const r of rows)
    perTxn.set(
      `${r.terminal_id}/${r.terminal_txn_id}`,
      (perTxn.get(`${r.terminal_id}/${r.terminal_txn_id}`) ?? 0) + 1,
    );
  return { sum, postings, approved: rows.filter((r) => r.approved === 1).length, perTxn };
}

/** `target` with some methods replaced (the others bound to it): a class instance's methods survive. */
export function override<T extends object>(target: T, overrides: Partial<T>): T {
  return new Proxy(target, {
    get(t, k, r) {
      if (k in overrides) return (overrides as Record<string | symbol, unknown>)[k];
      const v = Reflect.get(t, k, r);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}
