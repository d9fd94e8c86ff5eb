import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    store.save({ ...SMALL_RECEIPT, terminalTxnId: 'T-0001-abc-2', issuedAtMs: t + 1000, items: [{ sku: 'book', name: 'Paperback', quantity: 1, unitPriceMinor: 1299 }], maskedPan: '679999******0035' }, null);
    store.save({ ...SMALL_RECEIPT, terminalTxnId: 'T-0001-old', issuedAtMs: t - 86_400_000 }, null);
    expect(store.get('T-0001-abc-1')?.receipt.approvalCode).toBe('A1B2C3');
    expect(store.list({ sinceMs: t }).map((r) => r.receipt.terminalTxnId)).toEqual(['T-0001-abc-2', 'T-0001-abc-1']);
    expect(store.list({ sinceMs: t, query: 'paperBACK 0035' }).map((r) => r.receipt.terminalTxnId)).toEqual(['T-0001-abc-2']);
    expect(store.list({ sinceMs: t, query: 'green %' })).toEqual([]);
    expect(catalog.list().length).toBeGreaterThan(0);
    store.close();
    catalog.close();
    const again = new SqliteReceiptStore(path);
    expect(again.list({ sinceMs: 0 })).toHaveLength(3);
    again.close();
  });
});
