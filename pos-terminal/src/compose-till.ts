/**
 * The till's one composition root, shared by `pos-terminal serve`, the Electron main process, the
 * simulator's world and the fault rig: a till with its real adapters (gRPC backend client, SQLite
 * journal keyed from the till key, a BLE peripheral or none), the catalog and receipt store in the
 * till's SQLite file, the printer. Tests and the simulator pass overrides (a backend client, a
 * radio's peripheral, the journal's file, a clock, limits, a fault-injecting wrapper); they never
 * wire a till themselves.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createHmac, type KeyObject } from 'node:crypto';
import { privateKeyFromPem, type RsaPublicKey } from '@bluetill/protocol';
import { OfflineDesk, type OfflineForwarder } from './common/offline/offline-desk';
import type { BlockList, OfflinePolicyLimits } from './common/offline/offline-policy';
import {
  OfflineParametersCopy,
  type OfflineParametersSource,
  type OfflineRules,
} from './common/offline/offline-parameters';
import { isTimeZone, machineTimeZone } from './common/business-day';
import { SqliteOfflineJournal } from './adapters/journal/offline-journal.sqlite';
import { Till } from './common/till';
import type { TillLimits } from './common/till-context';
import type { BlePeripheral } from './common/ports/ble-peripheral';
import type { BackendClient } from './common/ports/backend-client';
import type { Journal } from './common/ports/journal';
import { GrpcBackendClient } from './adapters/backend/backend-client.grpc';
import { parseBackendAddresses } from './adapters/backend/backend-nodes';
import { SqliteJournal } from './adapters/journal/journal.sqlite';
import { journalKey, tillKeyFromEnv } from './adapters/journal/journal-key';
import { BlenoPeripheral } from './adapters/ble/ble-peripheral.bleno';
import type { HciTransport } from './adapters/ble/hci-transport';
import { SqliteCatalog } from './adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from './adapters/receipt/receipt-store.sqlite';
import { printerFromSpec } from './adapters/receipt/printer-from-spec';
import type { ReceiptPrinter } from './adapters/receipt/receipt-printer';
import { NoBlePeripheral } from './adapters/ble/no-ble-peripheral';

export interface TillConfig {
  /** The terminal identity file issued by the card company (terminalId, merchantId, merchantName, privatePem, certificate). */
  readonly terminalFile?: string;
  /** The identity itself, instead of terminalFile. */
  readonly terminal?: TerminalFile;
  /**
   * host:port of the authorization server, or of several backend nodes (`h1:p1,h2:p2`: the client
   * balances each call over them and fails over, backend-client.grpc.ts); not needed with a backend override.
   */
  readonly backend?: string;
  /** host:port of the settlement server(s), for GetSettlement; default the backend's. */
  readonly settlement?: string;
  /**
   * Folder with the mutual-TLS material: ca.pem (the backend CA), terminal-<id>.pem and
   * terminal-<id>-key.pem (this till's client certificate and key). Default: tls/ beside terminalFile.
   */
  readonly tlsDir?: string;
  /** Talk to the backend in plaintext without a client certificate: local debugging only. */
  readonly insecure?: boolean;
  /** Folder for the journal, the till database (catalog, receipts) and receipt PDFs. */
  readonly dataDir: string;
  /** `none` (default), `uart:/dev/ttyUSB0[:baud]` or `socket:0` (hci0). */
  readonly ble?: string;
  /** See printerFromSpec; default `file:<dataDir>/printer.escpos`. */
  readonly printer?: string;
  readonly counterName: string;
  readonly currency: string;
  /** The till key that protects the journal (journal-key.ts); default from BLUETILL_TILL_KEY / BLUETILL_TILL_KEY_FD. */
  readonly tillKey?: Uint8Array;
  /**
   * Offline mode: the scheme CA keys the till checks cards under, and what it approves by — the
   * card company's signed offline parameters (limits and block list, fetched and kept in the
   * journal; `cardCompanyRoot` certifies their key; `timeZone` is the shop's business day), or
   * `limits` and `blockList` set in code (tests, the simulator). Absent, the till takes no payment
   * while the card company is unreachable.
   */
  readonly offline?: {
    readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
    readonly cardCompanyRoot?: KeyObject;
    readonly timeZone?: string;
    readonly limits?: OfflinePolicyLimits;
    readonly blockList?: BlockList;
  };
}

/** What a test, the simulator or a device puts in place of the real parts. */
export interface TillOverrides {
  /** The backend client (its owner closes it); default a gRPC client from the config. */
  readonly backend?: BackendClient;
  /** The BLE peripheral (a simulated radio's); default from `ble`. */
  readonly peripheral?: BlePeripheral;
  /** The journal's file; default journal.sqlite in dataDir. */
  readonly journalPath?: string;
  /** The till database (catalog, receipts); default till.sqlite in dataDir, ':memory:' keeps none. */
  readonly tillDbPath?: string;
  readonly clock?: { now(): number };
  readonly limits?: Partial<TillLimits>;
  /** How often unresolved settlements are looked up (ms); 0 turns the timer off. */
  readonly resolveEveryMs?: number;
  /** How often offline mode's parameters are fetched (ms); 0: at start only. */
  readonly offlineRefreshEveryMs?: number;
  /** Wraps the backend client and the journal the till uses (fault injection). */
  readonly wrap?: (parts: { backend: BackendClient; journal: Journal }) => {
    backend: BackendClient;
    journal: Journal;
  };
  /** Keep waiting baskets, the sale rung up and the basket numbering in the journal across restarts; default true. */
  readonly keepBaskets?: boolean;
  /** Start the till (its peripheral, the first resolution of unknown outcomes); default true. */
  readonly start?: boolean;
}

export interface ComposedTill {
  readonly till: Till;
  /** The journal as opened (not wrapped). */
  readonly journal: SqliteJournal;
  /** The backend client the till uses (not wrapped). */
  readonly backend: BackendClient;
  readonly catalog: SqliteCatalog;
  readonly receipts: SqliteReceiptStore;
  readonly printer: ReceiptPrinter | null;
  readonly pdfDir: string;
  /** Offline mode, when configured. */
  readonly offline: OfflineDesk | null;
  close(): Promise<void>;
}

export interface TerminalFile {
  terminalId: string;
  merchantId: string;
  merchantName: string;
  privatePem: string;
  certificate: string;
}

/** The till's side of mutual TLS: the backend CA, its client key and certificate (PEM). */
export function readTerminalTls(dir: string, terminalId: string): { ca: Buffer; key: Buffer; cert: Buffer } {
  const read = (name: string) => {
    try {
      return readFileSync(join(dir, name));
    } catch (e) {
      throw new Error(
        `TLS material: ${join(dir, name)} missing (issue it with "bluetill-backend terminal issue-cert")`,
        { cause: e },
      );
    }
  };
  return {
    ca: read('ca.pem'),
    key: read(`terminal-${terminalId}-key.pem`),
    cert: read(`terminal-${terminalId}.pem`),
  };
}

export function bleFromSpec(spec: string): BlePeripheral {
  if (spec === 'none') return new NoBlePeripheral();
  const [kind, a, b] = spec.split(':');
  let hci: HciTransport | null = null;
  if (kind === 'uart' && a) hci = { transport: 'uart', path: a, ...(b ? { baudRate: Number(b) } : {}) };
  if (kind === 'socket' && a && /^\d+$/.test(a)) hci = { transport: 'socket', deviceId: Number(a) };
  if (!hci) throw new Error(`--ble must be none, uart:PATH[:BAUD] or socket:N, not "${spec}"`);
  return new BlenoPeripheral({ hci });
}

/** Reads a terminal identity file; names the field that is missing. */
export function readTerminalFile(path: string): TerminalFile {
  return checkTerminal(JSON.parse(readFileSync(path, 'utf8')) as TerminalFile);
}

function checkTerminal(t: TerminalFile): TerminalFile {
  for (const k of ['terminalId', 'merchantId', 'merchantName', 'privatePem', 'certificate'] as const)
    if (typeof t[k] !== 'string' || !t[k]) throw new Error(`terminal file: ${k} missing`);
  return t;
}

export async function composeTill(c: TillConfig, x: TillOverrides = {}): Promise<ComposedTill> {
  const tillKey = c.tillKey ?? tillKeyFromEnv();
  const t = c.terminal ? checkTerminal(c.terminal) : c.terminalFile ? readTerminalFile(c.terminalFile) : null;
  if (!t) throw new Error('a till needs its terminal identity (terminalFile)');
  if (!x.backend && !c.backend) throw new Error('a till needs the address of its backend');
  // Addresses checked before anything is opened or written.
  if (!x.backend) {
    parseBackendAddresses(c.backend!, 'backend');
    if (c.settlement) parseBackendAddresses(c.settlement, 'settlement');
  }
  const peripheral = x.peripheral ?? bleFromSpec(c.ble ?? 'none');
  mkdirSync(c.dataDir, { recursive: true });
  const terminalKey = privateKeyFromPem(t.privatePem).privateKey;
  const ownBackend = x.backend
    ? null
    : new GrpcBackendClient({
        authorizationAddress: c.backend!,
        ...(c.settlement ? { settlementAddress: c.settlement } : {}),
        terminalId: t.terminalId,
        ...(c.insecure
          ? { insecure: true }
          : {
              tls: readTerminalTls(
                c.tlsDir ?? join(dirname(c.terminalFile ?? join(c.dataDir, 'terminal.json')), 'tls'),
                t.terminalId,
              ),
            }),
      });
  const backend: BackendClient = x.backend ?? ownBackend!;
  const journal = new SqliteJournal(x.journalPath ?? join(c.dataDir, 'journal.sqlite'), {
    key: journalKey(tillKey, t.terminalId),
  });
  const parts = x.wrap ? x.wrap({ backend, journal }) : { backend, journal };
  const key = journalKey(tillKey, t.terminalId);
  const offlineJournal = c.offline
    ? new SqliteOfflineJournal(x.journalPath ?? join(c.dataDir, 'journal.sqlite'), { key })
    : null;
  const forwarder = parts.backend as BackendClient &
    Partial<OfflineForwarder> &
    Partial<OfflineParametersSource>;
  if (c.offline && typeof forwarder.forwardOffline !== 'function')
    throw new Error('offline mode needs a backend client that can forward offline sales');
  const clock = x.clock ?? { now: () => Date.now() };
  let rules: OfflineRules | undefined;
  if (c.offline && offlineJournal) {
    if (c.offline.cardCompanyRoot) {
      if (typeof forwarder.getOfflineParameters !== 'function')
        throw new Error('offline mode needs a backend client that fetches the offline parameters');
      const timeZone = c.offline.timeZone ?? machineTimeZone();
      if (!isTimeZone(timeZone)) throw new Error(`offline mode: unknown time zone "${timeZone}"`);
      rules = new OfflineParametersCopy({
        terminalId: t.terminalId,
        merchantId: t.merchantId,
        timeZone,
        cardCompanyRoot: c.offline.cardCompanyRoot,
        store: offlineJournal,
        source: forwarder as OfflineParametersSource,
        clock,
      });
    } else if (!c.offline.limits)
      throw new Error(
        'offline mode needs the card company root (its signed parameters) or limits set in code',
      );
  }
  const offline =
    c.offline && offlineJournal
      ? new OfflineDesk({
          terminalId: t.terminalId,
          merchantId: t.merchantId,
          merchantName: t.merchantName,
          terminalKey,
          journal: offlineJournal,
          ...(rules
            ? { rules }
            : { limits: c.offline.limits!, blockList: c.offline.blockList ?? { has: () => false } }),
          caKeys: c.offline.caKeys,
          cardKeySecret: new Uint8Array(
            createHmac('sha256', key).update('bluetill offline card keys').digest(),
          ),
          forwarder: forwarder as OfflineForwarder,
          clock,
        })
      : null;
  const tillDb = x.tillDbPath ?? join(c.dataDir, 'till.sqlite');
  const catalog = new SqliteCatalog(tillDb);
  const receipts = new SqliteReceiptStore(tillDb);
  const printer = printerFromSpec(c.printer ?? `file:${join(c.dataDir, 'printer.escpos')}`);
  const till = new Till({
    terminalId: t.terminalId,
    merchantId: t.merchantId,
    counterName: c.counterName,
    currency: c.currency,
    identity: {
      terminalKey,
      terminalCertificate: Buffer.from(t.certificate, 'base64'),
      merchantName: t.merchantName,
    },
    peripheral,
    backend: parts.backend,
    journal: parts.journal,
    ...((x.keepBaskets ?? true) ? { basketStore: journal } : {}),
    ...(x.clock ? { clock: x.clock } : {}),
    ...(x.limits ? { limits: x.limits } : {}),
    ...(x.resolveEveryMs !== undefined ? { resolveEveryMs: x.resolveEveryMs } : {}),
    ...(x.offlineRefreshEveryMs !== undefined ? { offlineRefreshEveryMs: x.offlineRefreshEveryMs } : {}),
    ...(offline ? { offline } : {}),
  });
  if (x.start ?? true) {
    // Receipts the till learns at start (settlements resolved from the journal) are kept too,
    // before any cashier host is listening.
    const offEarly = till.onEvent((e) => {
      if (e.type === 'receipt') receipts.save(e.receipt, e.sessionId);
    });
    await till.start();
    offEarly();
  }
  return {
    till,
    journal,
    backend,
    catalog,
    receipts,
    printer,
    pdfDir: join(c.dataDir, 'receipts'),
    offline,
    async close() {
      await till.stop();
      ownBackend?.close();
      journal.close();
      offlineJournal?.close();
      catalog.close();
      receipts.close();
    },
  };
}
