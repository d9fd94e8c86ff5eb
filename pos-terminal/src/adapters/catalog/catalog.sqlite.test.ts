import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteCatalog } from './catalog.sqlite';
import { SEED_PRODUCTS } from './seed-products';

describe('SqliteCatalog (real SQLite file)', () => {
  const dirs: string[] = [];
  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'bluetill-catalog-'));
    dirs.push(dir);
    return { path: join(dir, 'till.sqlite'), dir };
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('seeds about twenty products once, and keeps edits across reopen', () => {
    const { path } = open();
    const a = new SqliteCatalog(path);
    expect(a.list()).toHaveLength(SEED_PRODUCTS.length);
    expect(SEED_PRODUCTS.length).toBeGreaterThanOrEqual(20);
    a.upsert({ sku: 'tea-green', barcode: '4000000000017', name: 'Green tea', priceMinor: 375 });
    a.upsert({ sku: 'scarf', barcode: '4000000000208', name: 'Wool scarf', priceMinor: 2500 });
    a.close();
    const b = new SqliteCatalog(path);
    expect(b.list()).toHaveLength(SEED_PRODUCTS.length + 1);
    expect(b.bySku('tea-green')?.priceMinor).toBe(375);
    expect(b.byBarcode('4000000000208')?.name).toBe('Wool scarf');
    b.close();
  });

  it('searches by name, SKU and exact barcode; LIKE wildcards in the query are literal', () => {
    const c = new SqliteCatalog(open().path);
    expect(
      c
        .search('tea')
        .map((p) => p.sku)
        .sort(),
    ).toEqual(['tea-black', 'tea-green']);
    expect(
      c
        .search('WATER')
        .map((p) => p.sku)
        .sort(),
    ).toEqual(['sparkling', 'water']);
    expect(c.search('4000000000086').map((p) => p.sku)).toEqual(['bread']);
    expect(c.search('%')).toEqual([]);
    expect(c.search('', 5)).toHaveLength(5);
    expect(c.byBarcode('0000')).toBeUndefined();
    c.close();
  });

  it('refuses a negative or fractional price and a barcode used by another product', () => {
    const c = new SqliteCatalog(open().path);
    expect(() => c.upsert({ sku: 'x', barcode: null, name: 'X', priceMinor: -1 })).toThrow(RangeError);
    expect(() => c.upsert({ sku: 'x', barcode: null, name: 'X', priceMinor: 1.5 })).toThrow(RangeError);
    expect(() => c.upsert({ sku: 'x', barcode: '4000000000017', name: 'X', priceMinor: 1 })).toThrow(
      /UNIQUE/,
    );
    c.close();
  });
});
