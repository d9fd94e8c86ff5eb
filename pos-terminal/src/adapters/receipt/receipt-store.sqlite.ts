/**
 * The receipts the till has issued, for the day's history, search and reprint. Receipts carry
 * only the masked card number. Stored in the till's SQLite file beside the catalog.
 */
import Database from 'better-sqlite3';
import { Receipt } from '@bluetill/protocol';
import { migrate, versionTable } from '../sqlite/migrate';
import { migrations } from './migrations';

/** Where the receipt store's schema version is kept (its own table: the file's header is the catalog's). */
export const RECEIPT_STORE_VERSION = versionTable('receipt_store_version');

export interface StoredReceipt {
  readonly receipt: Receipt;
  readonly sessionId: string | null;
}

export class SqliteReceiptStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // The file's user_version belongs to the catalog (same file): this store keeps its own version.
    migrate(this.db, migrations, RECEIPT_STORE_VERSION);
  }

  /** Saves a receipt once (a replayed settlement returns the same receipt: kept as first stored). */
  save(receipt: Receipt, sessionId: string | null): void {
    const search = [
      receipt.terminalTxnId,
      receipt.maskedPan,
      receipt.approvalCode,
      receipt.result,
      receipt.declineReason,
      ...receipt.items.map((i) => `${i.name} ${i.sku}`),
      String(receipt.total?.minor ?? ''),
    ]
      .join(' ')
      .toLowerCase();
    this.db
      .prepare(
        'INSERT OR IGNORE INTO receipts (terminal_txn_id, issued_at, session_id, search_text, receipt) VALUES (?, ?, ?, ?, ?)',
      )
      .run(
        receipt.terminalTxnId,
        receipt.issuedAtMs,
        sessionId,
        search,
        Buffer.from(Receipt.encode(receipt).finish()),
      );
  }

  get(terminalTxnId: string): StoredReceipt | undefined {
    const r = this.db
      .prepare('SELECT session_id AS sessionId, receipt FROM receipts WHERE terminal_txn_id = ?')
      .get(terminalTxnId) as { sessionId: string | null; receipt: Buffer } | undefined;
    return r && { sessionId: r.sessionId, receipt: Receipt.decode(r.receipt) };
  }

  /** Newest first, issued at or after `sinceMs` (and before `untilMs`), every word of `query` found (case-insensitive). */
  list(o: { sinceMs: number; untilMs?: number; query?: string; limit?: number }): StoredReceipt[] {
    const words = (o.query ?? '').toLowerCase().split(/\s+/).filter(Boolean).slice(0, 8);
    const where = [
      'issued_at >= ? AND issued_at < ?',
      ...words.map(() => "search_text LIKE ? ESCAPE '\\'"),
    ].join(' AND ');
    const rows = this.db
      .prepare(
        `SELECT session_id AS sessionId, receipt FROM receipts WHERE ${where} ORDER BY issued_at DESC LIMIT ?`,
      )
      .all(
        o.sinceMs,
        o.untilMs ?? Number.MAX_SAFE_INTEGER,
        ...words.map((w) => `%${w.replace(/[\\%_]/g, (c) => `\\${c}`)}%`),
        o.limit ?? 100,
      ) as Array<{ sessionId: string | null; receipt: Buffer }>;
    return rows.map((r) => ({ sessionId: r.sessionId, receipt: Receipt.decode(r.receipt) }));
  }

  /** How many receipts (sales, refunds, voids, approved or not) were issued after `afterMs`. */
  countAfter(afterMs: number): number {
    return (
      this.db.prepare('SELECT count(*) AS n FROM receipts WHERE issued_at > ?').get(afterMs) as { n: number }
    ).n;
  }

  /** A batch the backend closed (its id and the backend's close time). */
  recordClose(batchId: number, closedAtMs: number): void {
    this.db
      .prepare('INSERT OR IGNORE INTO batch_closes (batch_id, closed_at) VALUES (?, ?)')
      .run(batchId, closedAtMs);
  }

  /** When the last batch closed by this till was closed, or null if none was. */
  lastCloseAt(): number | null {
    const r = this.db.prepare('SELECT max(closed_at) AS at FROM batch_closes').get() as { at: number | null };
    return r.at;
  }

  close(): void {
    this.db.close();
  }
}
