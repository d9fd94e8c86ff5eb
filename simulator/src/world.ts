/**
 * A whole bluetill world in one process, for the demo, tests and benchmarks: a seeded backend on
 * loopback gRPC with its SQLite file, one till (journal in SQLite) on a BLE link, and simulated
 * phones with their cards. `radio: 'memory'` uses the in-memory link.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  seedDemo,
  startBackend,
  readTerminalTls,
  MasterKey,
  fleetCards,
  DEMO_CARDS,
  DEMO_MERCHANT,
  DEMO_TERMINAL_ID,
  type Clock,
  type RunningBackend,
  type SeededBackend,
} from '@bluetill/backend';
import {
  GrpcBackendClient,
  composeTill,
  type BlePeripheral,
  type Till,
  type TillEvent,
  type TillLimits,
} from '@bluetill/pos-terminal';
import type { BleCentral, CardholderVerification, PaymentCard } from '@bluetill/phone-agent';
import { publicKeyFromRaw, type Item, type RsaPublicKey } from '@bluetill/protocol';
import pino from 'pino';
import { InMemoryRadio } from './link/in-memory-radio';
import { phoneCardFromFile } from './card/phone-card';
import type { CardProfileName } from './card/card-timing';
import { runPhone, type PhoneRun, type PhoneRunOptions } from './phone/phone-run';
import { PhoneHost, type PhoneDevice, type PhoneDeviceSource } from './phone/phone-host';

export type { PhoneRun } from './phone/phone-run';

export interface WorldOptions {
  readonly dir?: string;
  readonly logLevel?: string;
  readonly limits?: Partial<TillLimits>;
  readonly backendDeadlineMs?: number;
  /** Where the BLE link comes from; default an in-memory radio. */
  readonly radio?: { peripheral(): BlePeripheral; central(): BleCentral } & Partial<PhoneDeviceSource>;
  readonly counterName?: string;
  /** How many extra cards (card-fleet-001 …, PIN 1000 + n) to issue for fleets of phones. */
  readonly fleetCards?: number;
  /** Structured logs (backend and till events); silent by default. */
  readonly logger?: pino.Logger;
  /**
   * Run the phones (noble stacks, cards, phone agent) in one process of their own instead of this
   * one, as phones are devices of their own: the till's process then only carries the till and the
   * backend (fleets and benchmarks). Needs a radio that hands out phone devices (VirtualBle).
   */
  readonly phonesInOwnProcess?: boolean;
  /**
   * How long the phones' cards take (card-timing.ts): `instant` (default, for tests), or `fast`,
   * `typical`, `slow` as real contactless cards do (the demo and the benchmarks use `typical`).
   */
  readonly cardProfile?: CardProfileName;
  /** The backend's clock (expiry tests move it forward); default the system clock. */
  readonly backendClock?: Clock;
  /** Run the backend's use cases on a worker thread, as `bluetill-backend serve` does (not with backendClock). */
  readonly backendWorker?: boolean;
}

export interface World {
  readonly dir: string;
  /** Generated per run (never printed); keys.json in `dir` is sealed under it. */
  readonly masterKey: MasterKey;
  readonly seed: SeededBackend;
  readonly till: Till;
  readonly events: TillEvent[];
  backend: RunningBackend;
  /**
   * One simulated phone pays with a demo card (by card id) and the given PIN (typed for the online
   * PIN, the default, or for `cvm: { method: 'offline_pin' }`). `oda`: the phone authenticates the
   * card with the scheme CA keys of trust.json before any card data leaves it.
   */
  phonePays(
    cardId: string,
    pin: string,
    o?: PhoneRunOptions & { card?: PaymentCard; cvm?: CardholderVerification; oda?: boolean },
  ): Promise<PhoneRun>;
  /** The demo card a phone holds (one per card id, created on first use): its counters persist across payments. */
  cardOf(cardId: string): Promise<PaymentCard>;
  /**
   * Gets these shoppers' phones ready before they reach the counter: the card issued and in the
   * phone (personalizing is issuing, not paying) and, for phones in their own process, the phone's
   * radio device and Bluetooth stack on. Their next `phonePays` uses them. A benchmark prepares
   * the phones before it starts the clock.
   */
  preparePhones(cardIds: readonly string[]): Promise<void>;
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
  const clock = {
    ...(o.backendClock ? { clock: o.backendClock } : {}),
    ...(o.backendWorker ? { worker: true } : {}),
  };
  let backend = await startBackend({
    dbPath: seed.dbPath,
    keysPath: seed.keysPath,
    masterKey,
    logger,
    ...clock,
  });
  const port = backend.port;
  const radio: NonNullable<WorldOptions['radio']> = o.radio ?? new InMemoryRadio();
  // Mutual TLS, as in production: the till's client certificate from the seed's tls/ folder. The
  // backend is named as a till would name it, by a DNS name its certificate carries (localhost):
  // grpc-js sends the target's host as the TLS server name, and Node warns at an IP address there.
  const client = new GrpcBackendClient({
    authorizationAddress: `localhost:${port}`,
    terminalId: DEMO_TERMINAL_ID,
    tls: readTerminalTls(seed.tlsDir, DEMO_TERMINAL_ID),
    deadlineMs: o.backendDeadlineMs ?? 3_000,
    attempts: 2,
    backoffMs: 100,
  });
  // The till as pos-terminal composes it (one composition root); the world puts in its radio, its
  // client and a fresh till key, keeps no baskets across restarts and resolves unknown outcomes when asked.
  const composed = await composeTill(
    {
      terminal: seed.terminal,
      dataDir: dir,
      counterName: o.counterName ?? 'Counter 1',
      currency: DEMO_MERCHANT.currency,
      tillKey: new Uint8Array(randomBytes(32)),
      printer: 'none',
    },
    {
      backend: client,
      peripheral: radio.peripheral(),
      journalPath: join(dir, 'till-journal.sqlite'),
      tillDbPath: ':memory:',
      limits: { ...o.limits },
      resolveEveryMs: 0,
      keepBaskets: false,
      start: false,
    },
  );
  const till = composed.till;
  const events: TillEvent[] = [];
  const tillLog = logger.child({ name: 'till', terminalId: DEMO_TERMINAL_ID });
  till.onEvent((e) => {
    events.push(e);
    if (e.type === 'receipt')
      tillLog.info(
        {
          event: 'receipt',
          txn: e.receipt.terminalTxnId,
          result: e.receipt.result,
          maskedPan: e.receipt.maskedPan,
          total: e.receipt.total,
        },
        'receipt issued',
      );
    else if (e.type === 'error')
      tillLog.warn({ event: 'session_error', sessionId: e.sessionId, code: e.code }, e.message);
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
  let phoneHost: PhoneHost | null = null;
  /** Devices of phones made ready by preparePhones, by card. */
  const readyDevices = new Map<string, PhoneDevice>();
  if (o.phonesInOwnProcess) {
    if (!radio.phoneDevice)
      throw new Error('phonesInOwnProcess needs a radio that hands out phone devices (VirtualBle)');
    phoneHost = await PhoneHost.start({
      devices: radio as PhoneDeviceSource,
      trust: seed.trust,
      counterName: o.counterName ?? 'Counter 1',
      cardProfile: o.cardProfile ?? 'instant',
    });
  }

  // The scheme's EMV CA keys, as trust.json gives them to phones that authenticate cards offline.
  const emvCaKeys = new Map<number, RsaPublicKey>(
    seed.trust.emvCaKeys.map((k) => [
      k.index,
      {
        modulus: new Uint8Array(Buffer.from(k.modulus, 'base64')),
        exponent: new Uint8Array(Buffer.from(k.exponent, 'base64')),
      },
    ]),
  );
  async function cardOf(cardId: string): Promise<PaymentCard> {
    const data = allCards.find((c) => c.id === cardId);
    if (!data) throw new Error(`no demo card ${cardId}`);
    let card = cards.get(cardId);
    if (!card)
      cards.set(
        cardId,
        (card = (
          await phoneCardFromFile(join(seed.cardsDir, `${data.id}.json`), {
            cardProfile: o.cardProfile ?? 'instant',
          })
        ).paymentCard),
      );
    return card;
  }

  async function payOnce(
    cardId: string,
    pin: string,
    po: Parameters<World['phonePays']>[2] = {},
  ): Promise<PhoneRun> {
    const data = allCards.find((c) => c.id === cardId);
    if (!data) throw new Error(`no demo card ${cardId}`);
    if (phoneHost) {
      if (
        po.card ||
        po.tamper ||
        po.dropAfterMessages ||
        po.wrapLink ||
        po.onStep ||
        po.confirmWhen ||
        po.cvm ||
        po.oda
      )
        throw new Error('phones in their own process pay with their own card, online PIN, untampered');
      const device = readyDevices.get(cardId) ?? (await phoneHost.device());
      readyDevices.delete(cardId);
      return phoneHost
        .pay({
          cardId,
          cardFile: join(seed.cardsDir, `${data.id}.json`),
          pin,
          ttyPath: device.ttyPath,
          ...(po.expectTotalMinor !== undefined ? { expectTotalMinor: po.expectTotalMinor } : {}),
          ...(po.shopper ? { shopper: po.shopper } : {}),
        })
        .finally(() => device.release());
    }
    const card = po.card ?? (await cardOf(cardId));
    return runPhone({
      ...po,
      central: radio.central(),
      card,
      pin,
      trust: { ...trust, emvCaKeys },
      counterName: o.counterName ?? 'Counter 1',
    });
  }

  const world: World = {
    dir,
    masterKey,
    seed,
    till,
    events,
    backend,
    cardOf,
    async preparePhones(cardIds) {
      for (const cardId of cardIds)
        if (!allCards.some((c) => c.id === cardId)) throw new Error(`no demo card ${cardId}`);
      if (!phoneHost) return void (await Promise.all(cardIds.map((id) => cardOf(id))));
      const host = phoneHost;
      const phones = await Promise.all(
        cardIds
          .filter((id) => !readyDevices.has(id))
          .map(async (cardId) => {
            const device = await host.device();
            readyDevices.set(cardId, device);
            return { cardId, cardFile: join(seed.cardsDir, `${cardId}.json`), ttyPath: device.ttyPath };
          }),
      );
      await host.preparePhones(phones);
    },
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
      world.backend = backend = await startBackend({
        dbPath: seed.dbPath,
        keysPath: seed.keysPath,
        masterKey,
        logger,
        port,
        ...clock,
      });
      await client.waitForReady(5_000);
    },
    async close() {
      await phoneHost?.close();
      await composed.close();
      client.close();
      await world.backend.close().catch(() => undefined);
      if (!o.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}
