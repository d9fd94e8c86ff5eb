/**
 * The product catalog in the till's SQLite file (WAL, synchronous=FULL), seeded on first open.
 * Prices are integers in minor units.                                                   [BS3]
 */
import Database from 'better-sqlite3';
import type { Catalog, Product } from './catalog';
import { SEED_PRODUCTS } from './seed-products';
import { migrate, userVersion } from '../sqlite/migrate';
import { migrations } from './migrations';

const COLUMNS = 'sku, barcode, name, price_minor AS priceMinor';

export class SqliteCatalog implements Catalog {
  private readonly db: Database.Database;

  constructor(path: string, options: { seed?: readonly Product[] } = {}) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    migrate(this.db, migrations, userVersion);
    const count = (this.db.prepare('SELECT COUNT(*) AS n FROM products').get() as { n: number }).n;
    if (count === 0)
      this.db.transaction(() => (options.seed ?? SEED_PRODUCTS).forEach((p) => this.upsert(p)))();
  }

  search(query: string, limit = 20): Product[] {
    const q = query.trim();
    if (q === '')
      return this.db
        .prepare(`SELECT ${COLUMNS} FROM products ORDER BY name COLLATE NOCASE LIMIT ?`)
        .all(limit) as Product[];
    const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return this.db
      .prepare(
        `SELECT ${COLUMNS} FROM products WHERE name LIKE ? ESCAPE '\\' OR sku LIKE ? ESCAPE '\\' OR barcode = ?
         ORDER BY (barcode = ?) DESC, (name LIKE ? ESCAPE '\\') DESC, name COLLATE NOCASE LIMIT ?`,
      )
      .all(like, like, q, q, `${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`, limit) as Product[];
  }

  bySku(sku: string): Product | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM products WHERE sku = ?`).get(sku) as Product | undefined;
  }

  byBarcode(barcode: string): Product | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM products WHERE barcode = ?`).get(barcode) as
      Product | undefined;
  }

  upsert(p: Product): Product {
    if (!Number.isSafeInteger(p.priceMinor) || p.priceMinor < 0)
      throw new RangeError('price must be a non-negative integer of minor units');
    this.db
      .prepare(
        'INSERT INTO products (sku, barcode, name, price_minor) VALUES (?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET barcode = excluded.barcode, name = excluded.name, price_minor = excluded.price_minor',
      )
      .run(p.sku, p.barcode, p.name, p.priceMinor);
    return this.bySku(p.sku)!;
  }

  list(): Product[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM products ORDER BY name COLLATE NOCASE`).all() as Product[];
  }

  close(): void {
    this.db.close();
  }
}
