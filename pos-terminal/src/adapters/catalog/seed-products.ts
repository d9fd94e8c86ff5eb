import type { Product } from './catalog';

/** The products a fresh till starts with (prices in minor units; barcodes are EAN-13 style). */
export const SEED_PRODUCTS: readonly Product[] = [
  { sku: 'tea-green', barcode: '4000000000017', name: 'Green tea', priceMinor: 350 },
  { sku: 'tea-black', barcode: '4000000000024', name: 'Black tea', priceMinor: 320 },
  { sku: 'coffee', barcode: '4000000000031', name: 'Coffee beans 250g', priceMinor: 799 },
  { sku: 'water', barcode: '4000000000048', name: 'Still water', priceMinor: 120 },
  { sku: 'sparkling', barcode: '4000000000055', name: 'Sparkling water', priceMinor: 130 },
  { sku: 'juice-orange', barcode: '4000000000062', name: 'Orange juice 1l', priceMinor: 249 },
  { sku: 'milk', barcode: '4000000000079', name: 'Milk 1l', priceMinor: 119 },
  { sku: 'bread', barcode: '4000000000086', name: 'Sourdough bread', priceMinor: 420 },
  { sku: 'croissant', barcode: '4000000000093', name: 'Croissant', priceMinor: 180 },
  { sku: 'sandwich', barcode: '4000000000109', name: 'Club sandwich', priceMinor: 650 },
  { sku: 'apple', barcode: '4000000000116', name: 'Apple', priceMinor: 60 },
  { sku: 'banana', barcode: '4000000000123', name: 'Banana', priceMinor: 35 },
  { sku: 'chocolate', barcode: '4000000000130', name: 'Dark chocolate', priceMinor: 229 },
  { sku: 'cheese', barcode: '4000000000147', name: 'Cheddar 200g', priceMinor: 389 },
  { sku: 'eggs', barcode: '4000000000154', name: 'Eggs, six', priceMinor: 299 },
  { sku: 'book', barcode: '9780000000002', name: 'Paperback', priceMinor: 1299 },
  { sku: 'pen', barcode: '4000000000161', name: 'Gel pen', priceMinor: 199 },
  { sku: 'notebook', barcode: '4000000000178', name: 'Notebook A5', priceMinor: 450 },
  { sku: 'batteries', barcode: '4000000000185', name: 'Batteries AA, 4', priceMinor: 549 },
  { sku: 'umbrella', barcode: '4000000000192', name: 'Umbrella', priceMinor: 1499 },
];
