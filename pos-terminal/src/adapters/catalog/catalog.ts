/**
 * The till's product catalog: what the cashier can ring up, found by name/SKU or by barcode.
 *
 * @example
 *   const tea = catalog.byBarcode('4006381333931');
 *   catalog.upsert({ sku: 'tea-green', barcode: null, name: 'Green tea', priceMinor: 350 });
 */
export interface Product {
  readonly sku: string;
  readonly barcode: string | null;
  readonly name: string;
  readonly priceMinor: number;
}

export interface Catalog {
  search(query: string, limit?: number): Product[];
  bySku(sku: string): Product | undefined;
  byBarcode(barcode: string): Product | undefined;
  upsert(p: Product): Product;
  list(): Product[];
  close(): void;
}
