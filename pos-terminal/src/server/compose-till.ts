/**
 * The composition root shared by `pos-terminal serve` and the Electron main process: a till with
 * its real adapters (gRPC backend client, SQLite journal keyed from the terminal key, a BLE
 * peripheral or none), the catalog and receipt store in the till's SQLite file, the printer.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { privateKeyFromPem } from '@bluetill/protocol';
import { Till } from '../common/till';
import type { BlePeripheral } from '../common/ports/ble-peripheral';
import { GrpcBackendClient } from '../main/backend/backend-client.grpc';
import { SqliteJournal } from '../main/journal/journal.sqlite';
import { journalKey, tillKeyFromEnv } from '../main/journal/journal-key';
import { BlenoPeripheral } from '../main/ble/ble-peripheral.bleno';
import type { HciTransport } from '../main/ble/hci-transport';
import { SqliteCatalog } from '../main/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../main/receipt/receipt-store.sqlite';
import { printerFromSpec } from '../main/receipt/printer-from-spec';
import type { ReceiptPrinter } from '../main/receipt/receipt-printer';
import { NoBlePeripheral } from './no-ble-peripheral';

export interface TillConfig {
  /** The terminal identity file issued by the card company (terminalId, merchantId, merchantName, privatePem, certificate). */
  readonly terminalFile: string;
  /** host:port of the authorization server. */
  readonly backend: string;
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
  /** `none`, `uart:/dev/ttyUSB0[:baud]` or `socket:0` (hci0). */
  readonly ble: string;
  /** See printerFromSpec; default `file:<dataDir>/printer.escpos`. */
  readonly printer?: string;
  readonly counterName: string;
  readonly currency: string;
  /** The till key that protects the journal (journal-key.ts); default from BLUETILL_TILL_KEY / BLUETILL_TILL_KEY_FD. */
  readonly tillKey?: Uint8Array;
}

export interface ComposedTill {
  readonly till: Till;
  readonly catalog: SqliteCatalog;
  readonly receipts: SqliteReceiptStore;
  readonly printer: ReceiptPrinter | null;
  readonly pdfDir: string;
  close(): Promise<void>;
}

interface TerminalFile {
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
      throw new Error(`TLS material: ${join(dir, name)} missing (issue it with "bluetill-backend terminal issue-cert")`, { cause: e });
    }
  };
  return { ca: read('ca.pem'), key: read(`terminal-${terminalId}-key.pem`), cert: read(`terminal-${terminalId}.pem`) };
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

export async function composeTill(c: TillConfig): Promise<ComposedTill> {
  const tillKey = c.tillKey ?? tillKeyFromEnv();
  const t = JSON.parse(readFileSync(c.terminalFile, 'utf8')) as TerminalFile;
  for (const k of ['terminalId', 'merchantId', 'merchantName', 'privatePem', 'certificate'] as const)
    if (typeof t[k] !== 'string' || !t[k]) throw new Error(`terminal file: ${k} missing`);
  mkdirSync(c.dataDir, { recursive: true });
  const terminalKey = privateKeyFromPem(t.privatePem).privateKey;
  const backend = new GrpcBackendClient({
    authorizationAddress: c.backend, ...(c.settlement ? { settlementAddress: c.settlement } : {}), terminalId: t.terminalId,
    ...(c.insecure ? { insecure: true } : { tls: readTerminalTls(c.tlsDir ?? join(dirname(c.terminalFile), 'tls'), t.terminalId) }),
  });
  const journal = new SqliteJournal(join(c.dataDir, 'journal.sqlite'), { key: journalKey(tillKey, t.terminalId) });
  const tillDb = join(c.dataDir, 'till.sqlite');
  const catalog = new SqliteCatalog(tillDb);
  const receipts = new SqliteReceiptStore(tillDb);
  const printer = printerFromSpec(c.printer ?? `file:${join(c.dataDir, 'printer.escpos')}`);
  const till = new Till({
    terminalId: t.terminalId,
    merchantId: t.merchantId,
    counterName: c.counterName,
    currency: c.currency,
    identity: { terminalKey, terminalCertificate: Buffer.from(t.certificate, 'base64'), merchantName: t.merchantName },
    peripheral: bleFromSpec(c.ble),
    backend,
    journal,
    basketStore: journal,
  });
  // Receipts the till learns at start (settlements resolved from the journal) are kept too,
  // before any cashier host is listening.
  const offEarly = till.onEvent((e) => {
    if (e.type === 'receipt') receipts.save(e.receipt, e.sessionId);
  });
  await till.start();
  offEarly();
  return {
    till, catalog, receipts, printer,
    pdfDir: join(c.dataDir, 'receipts'),
    async close() {
      await till.stop();
      backend.close();
      journal.close();
      catalog.close();
      receipts.close();
    },
  };
}
