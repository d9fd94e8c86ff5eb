/**
 * A whole bluetill world in one process, for the demo, tests and benchmarks: a seeded backend on
 * loopback gRPC with its SQLite file, one till (journal in SQLite) on a BLE link, and simulated
 * phones with their cards. `radio: 'memory'` uses the in-memory link.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedDemo, startBackend, readTerminalTls, MasterKey, fleetCards, DEMO_CARDS, DEMO_MERCHANT, DEMO_TERMINAL_ID, type Clock, type RunningBackend, type SeededBackend } from '@bluetill/backend';
import { GrpcBackendClient, SqliteJournal, Till, type BlePeripheral, type TillEvent, type TillLimits } from '@bluetill/pos-terminal';
import { pay, retrieveReceipt, type BleCentral, type PaymentCard, type PaymentOutcome, type PayOptions } from '@bluetill/phone-agent';
import { privateKeyFromPem, publicKeyFromRaw, type Item } from '@bluetill/protocol';
import { journalKey } from '@bluetill/pos-terminal';
import pino from 'pino';
import { InMemoryRadio } from './link/in-memory-radio';
import { phoneCardFromFile } from './card/phone-card';
import { AutoPrompt } from './phone/auto-prompt';
import { dropAfterMessages } from './phone/flaky-link';

export interface WorldOptions {
  readonly dir?: string;
  readonly logLevel?: string;
  readonly limits?: Partial<TillLimits>;
  readonly backendDeadlineMs?: number;
  /** Where the BLE link comes from; default an in-memory radio. */
  readonly radio?: { peripheral(): BlePeripheral; central(): BleCentral };
  readonly counterName?: string;
  /** How many extra cards (card-fleet-001 …, PIN 1000 + n) to issue for fleets of phones. */
  readonly fleetCards?: number;
  /** Structured logs (backend and till events); silent by default. */
  readonly logger?: pino.Logger;
  /** The backend's clock (expiry tests move it forward); default the system clock. */
  readonly backendClock?: Clock;
}

export interface PhoneRun {
  readonly outcome: PaymentOutcome;
  /** The first outcome when the link was lost and the phone reconnected to ask (resume). */
  readonly beforeResume?: PaymentOutcome;
  readonly prompt: AutoPrompt;
  /** Scan start to final outcome. */
  readonly ms: number;
  /** Connection start (the till was found) to final outcome. */
  readonly connectToReceiptMs?: number;
  /** Messages the phone sent after connecting that asked for an answer (protocol round trips). */
  readonly roundTrips?: number;
}

export interface World {
  readonly dir: string;
  /** Generated per run (never printed); keys.json in `dir` is sealed under it. */
  readonly masterKey: MasterKey;
  readonly seed: SeededBackend;
  readonly till: Till;
  readonly events: TillEvent[];
  backend: RunningBackend;
  /** One simulated phone pays with a demo card (by card id) and the given PIN. */
  phonePays(cardId: string, pin: string, o?: { tamper?: PayOptions['tamper']; card?: PaymentCard; expectTotalMinor?: number; dropAfterMessages?: number; resume?: boolean; onStep?: (step: string) => void }): Promise<PhoneRun>;
  ringUp(items: readonly Item[]): string;
  stopBackend(): Promise<void>;
  restartBackend(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(o: WorldOptions = {}): Promise<World> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'bluetill-world-'));
  const extraCards = fleetCards(o.fleetCards ?? 0);
  const allCards = [...DEMO_CARDS, ...extraCards];
  // A fresh master key per run: keys.json is encrypted at rest, as in production.
  const masterKey = MasterKey.generate();
  const seed = await seedDemo(dir, [], extraCards, { masterKey });
  const logger = o.logger ?? pino({ level: o.logLevel ?? 'silent' });
  const clock = o.backendClock ? { clock: o.backendClock } : {};
  let backend = await startBackend({ dbPath: seed.dbPath, keysPath: seed.keysPath, masterKey, logger, ...clock });
  const port = backend.port;
  const radio = o.radio ?? new InMemoryRadio();
  // Mutual TLS, as in production: the till's client certificate from the seed's tls/ folder.
  const client = new GrpcBackendClient({ authorizationAddress: backend.address, terminalId: DEMO_TERMINAL_ID, tls: readTerminalTls(seed.tlsDir, DEMO_TERMINAL_ID), deadlineMs: o.backendDeadlineMs ?? 3_000, attempts: 2, backoffMs: 100 });
  const terminalKey = privateKeyFromPem(seed.terminal.privatePem).privateKey;
  const journal = new SqliteJournal(join(dir, 'till-journal.sqlite'), { key: journalKey(terminalKey) });
  const till = new Till({
    terminalId: DEMO_TERMINAL_ID,
    merchantId: DEMO_MERCHANT.id,
    counterName: o.counterName ?? 'Counter 1',
    currency: DEMO_MERCHANT.currency,
    identity: { terminalKey, terminalCertificate: Buffer.from(seed.terminal.certificate, 'base64'), merchantName: seed.terminal.merchantName },
    peripheral: radio.peripheral(),
    backend: client,
    journal,
    limits: { ...o.limits },
    resolveEveryMs: 0,
  });
  const events: TillEvent[] = [];
  const tillLog = logger.child({ name: 'till', terminalId: DEMO_TERMINAL_ID });
  till.onEvent((e) => {
    events.push(e);
    if (e.type === 'receipt') tillLog.info({ event: 'receipt', txn: e.receipt.terminalTxnId, result: e.receipt.result, maskedPan: e.receipt.maskedPan, total: e.receipt.total }, 'receipt issued');
    else if (e.type === 'error') tillLog.warn({ event: 'session_error', sessionId: e.sessionId, code: e.code }, e.message);
    else if (e.type === 'session') tillLog.debug({ event: 'session', ...e.session }, 'session');
    else tillLog.info({ event: e.type, ...e }, e.type);
  });
  // One card object per card, as a shopper has one physical card: its ATC only moves forward, and
  // it is in one phone at a time (payments with the same card wait for each other).
  const cards = new Map<string, PaymentCard>();
  const cardBusy = new Map<string, Promise<unknown>>();
  await till.start();
  const trust = {
    acquirerCa: publicKeyFromRaw(Buffer.from(seed.trust.acquirerCa, 'base64')),
    cardCompanyRoot: publicKeyFromRaw(Buffer.from(seed.trust.cardCompanyRoot, 'base64')),
  };

  async function payOnce(cardId: string, pin: string, po: Parameters<World['phonePays']>[2] = {}): Promise<PhoneRun> {
    const data = allCards.find((c) => c.id === cardId);
    if (!data) throw new Error(`no demo card ${cardId}`);
    const central = radio.central();
    const t0 = performance.now();
    const found = await central.scan({ timeoutMs: 5_000, counterName: o.counterName ?? 'Counter 1' });
    if (found.length === 0) throw new Error('no till found');
    const tConnect = performance.now();
    const connected = await central.connect(found[0]!.id);
    let roundTrips = 0;
    const counting: typeof connected = {
      get mtu() {
        return connected.mtu;
      },
      write: async (v, wo) => {
        await connected.write(v, wo);
        if ((v[0]! & 0x40) !== 0) roundTrips++; // LAST fragment: one whole request sent
      },
      readInfo: () => connected.readInfo(),
      onValue: (h) => connected.onValue(h),
      onDisconnect: (h) => connected.onDisconnect(h),
      disconnect: () => connected.disconnect(),
    };
    const link = po.dropAfterMessages ? dropAfterMessages(counting, po.dropAfterMessages) : counting;
    const prompt = new AutoPrompt({ pin, ...(po.expectTotalMinor !== undefined ? { expectTotalMinor: po.expectTotalMinor } : {}), ...(po.onStep ? { onStep: po.onStep } : {}) });
    try {
      let card = po.card ?? cards.get(cardId);
      if (!card) cards.set(cardId, (card = (await phoneCardFromFile(join(seed.cardsDir, `${data.id}.json`))).paymentCard));
      const outcome = await pay({ link, card, prompt, trust, ...(po.tamper ? { tamper: po.tamper } : {}) });
      if (outcome.kind === 'failed' && outcome.resume && po.resume !== false) {
        // The link was lost after the Payment left: reconnect and ask the till what became of it.
        await connected.disconnect().catch(() => undefined);
        const again = await central.connect(found[0]!.id);
        try {
          const resumed = await retrieveReceipt({ link: again, trust, ticket: outcome.resume });
          return { outcome: resumed, beforeResume: outcome, prompt, ms: performance.now() - t0 };
        } finally {
          await again.disconnect().catch(() => undefined);
        }
      }
      return { outcome, prompt, ms: performance.now() - t0, connectToReceiptMs: performance.now() - tConnect, roundTrips };
    } finally {
      await connected.disconnect().catch(() => undefined);
      await central.close();
    }
  }

  const world: World = {
    dir, masterKey, seed, till, events, backend,
    ringUp: (items) => till.baskets.add(items).id,
    phonePays(cardId, pin, po = {}) {
      if (po.card) return payOnce(cardId, pin, po);
      const before = cardBusy.get(cardId) ?? Promise.resolve();
      const run = before.catch(() => undefined).then(() => payOnce(cardId, pin, po));
      cardBusy.set(cardId, run);
      return run;
    },
    async stopBackend() {
      await world.backend.close();
    },
    async restartBackend() {
      world.backend = backend = await startBackend({ dbPath: seed.dbPath, keysPath: seed.keysPath, masterKey, logger, port, ...clock });
      await client.waitForReady(5_000);
    },
    async close() {
      await till.stop();
      client.close();
      journal.close();
      await world.backend.close().catch(() => undefined);
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}
