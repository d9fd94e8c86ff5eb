import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteReceiptStore } from './receipt-store.sqlite';
import { SqliteCatalog } from '../catalog/catalog.sqlite';
import { SMALL_RECEIPT } from './receipt.fixture';

describe('SqliteReceiptStore (real SQLite file, shared with the catalog)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-receipts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps receipts once, lists the day newest first, searches every word', () => {
    const path = join(dir, 'till.sqlite');
    const catalog = new SqliteCatalog(path);
    const store = new SqliteReceiptStore(path);
    const t = SMALL_RECEIPT.issuedAtMs;
    store.save(SMALL_RECEIPT, 's1');
    store.save({ ...SMALL_RECEIPT, approvalCode: 'CHANGED' }, 's1'); // a replay: first one stays
    store.save(
      {
        ...SMALL_RECEIPT,
        terminalTxnId: 'T-0001-abc-2',
        issuedAtMs: t + 1000,
        items: [{ sku: 'book', name: 'Paperback', quantity: 1, unitPriceMinor: 1299 }],
        maskedPan: '679999******0035',
      },
      null,
    );
    store.save({ ...SMALL_RECEIPT, terminalTxnId: 'T-0001-old', issuedAtMs: t - 86_400_000 }, null);
    expect(store.get('T-0001-abc-1')?.receipt.approvalCode).toBe('A1B2C3');
    expect(store.list({ sinceMs: t }).map((r) => r.receipt.terminalTxnId)).toEqual([
      'T-0001-abc-2',
      'T-0001-abc-1',
    ]);
    expect(store.list({ sinceMs: t, query: 'paperBACK 0035' }).map((r) => r.receipt.terminalTxnId)).toEqual([
      'T-0001-abc-2',
    ]);
    expect(store.list({ sinceMs: t, query: 'green %' })).toEqual([]);
    expect(catalog.list().length).toBeGreaterThan(0);
    store.close();
    catalog.close();
    const again = new SqliteReceiptStore(path);
    expect(again.list({ sinceMs: 0 })).toHaveLength(3);
    again.close();
  });
});

describe('receipt store migration 2 (batch closes)', () => {
  it('2: a store at version 1 keeps its receipts and gains the record of closed batches', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'bluetill-receipts-')), 'till.sqlite');
    const v1 = new Database(path);
    v1.exec(`CREATE TABLE receipt_store_version (v INTEGER NOT NULL); INSERT INTO receipt_store_version (v) VALUES (1);
      CREATE TABLE receipts (terminal_txn_id TEXT PRIMARY KEY, issued_at INTEGER NOT NULL, session_id TEXT, search_text TEXT NOT NULL, receipt BLOB NOT NULL) STRICT;
      CREATE INDEX receipts_issued ON receipts (issued_at);`);
    v1.close();
    const store = new SqliteReceiptStore(path);
    store.save(SMALL_RECEIPT, null);
    expect(store.lastCloseAt()).toBeNull();
    store.recordClose(7, SMALL_RECEIPT.issuedAtMs);
    expect(store.lastCloseAt()).toBe(SMALL_RECEIPT.issuedAtMs);
    expect(store.countAfter(SMALL_RECEIPT.issuedAtMs)).toBe(0);
    expect(store.countAfter(SMALL_RECEIPT.issuedAtMs - 1)).toBe(1);
    store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT v FROM receipt_store_version').get()).toEqual({ v: 2 });
    raw.close();
  });
});
