import type Database from 'better-sqlite3';

/** The products the till sells (prices in minor units). */
export function up(db: Database.Database): void {
  db.exec(`CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    barcode TEXT UNIQUE,
    name TEXT NOT NULL,
    price_minor INTEGER NOT NULL CHECK (price_minor >= 0)
  ) STRICT;
  CREATE INDEX products_name ON products (name COLLATE NOCASE);`);
}
