/**
 * Parsers for what the shopper types on the command line for the phone-direct flows: an amount
 * ("25", "25.5", "25.00" → minor units) and items (`--item SKU:NAME:QTY:PRICE`, or a JSON file
 * `[{ sku, name, quantity, unitPrice }]`). Bad input is a usage error (CliError, exit 2) that
 * names the option, never a crash.
 */
import { readFileSync } from 'node:fs';
import type { Item } from '@bluetill/protocol';
import { CliError } from './cli-error';

const MAX_MINOR = 100_000_000;

/** "12", "12.3", "12.34" (two decimals at most) → 1234; throws CliError on anything else. */
export function parseAmount(name: string, text: string): number {
  const m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!m) throw CliError.usage('usage', `${name} must be an amount like 25.00, got "${text.slice(0, 20)}"`);
  const minor = Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
  if (minor <= 0 || minor > MAX_MINOR)
    throw CliError.usage('usage', `${name} must be more than 0 and at most 1000000.00`);
  return minor;
}

const SKU = /^[A-Za-z0-9._-]{1,64}$/;

function checkItem(
  where: string,
  sku: unknown,
  name: unknown,
  quantity: unknown,
  unitPriceMinor: number,
): Item {
  if (typeof sku !== 'string' || !SKU.test(sku))
    throw CliError.usage('usage', `${where}: the SKU must be 1-64 of A-Z a-z 0-9 . _ -`);
  if (typeof name !== 'string' || name.length < 1 || name.length > 80)
    throw CliError.usage('usage', `${where}: the name must be 1-80 characters`);
  if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1 || quantity > 9999)
    throw CliError.usage('usage', `${where}: the quantity must be 1-9999`);
  return { sku, name, quantity, unitPriceMinor };
}

/** `SKU:NAME:QTY:PRICE`, e.g. `tea:Green tea:2:3.50` (the name may not hold a colon). */
export function parseItem(text: string): Item {
  const parts = text.split(':');
  if (parts.length !== 4)
    throw CliError.usage('usage', `--item must be SKU:NAME:QTY:PRICE, got "${text.slice(0, 40)}"`);
  const [sku, name, qty, price] = parts as [string, string, string, string];
  if (!/^\d{1,4}$/.test(qty)) throw CliError.usage('usage', '--item: the quantity must be 1-9999');
  return checkItem('--item', sku, name, Number(qty), parseAmount('--item price', price));
}

/** A JSON file: an array of { sku, name, quantity, unitPrice: "3.50" }. */
export function readItemsFile(path: string): Item[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw CliError.usage('usage', `cannot read the items file ${path}`, { cause });
  }
  if (!Array.isArray(parsed) || parsed.length < 1 || parsed.length > 200)
    throw CliError.usage('usage', `${path} must be a JSON array of 1-200 items`);
  return parsed.map((raw: unknown, i) => {
    const o = (raw ?? {}) as Record<string, unknown>;
    if (typeof o.unitPrice !== 'string')
      throw CliError.usage('usage', `${path} item ${i + 1}: unitPrice must be a string like "3.50"`);
    return checkItem(
      `${path} item ${i + 1}`,
      o.sku,
      o.name,
      o.quantity,
      parseAmount(`${path} item ${i + 1} unitPrice`, o.unitPrice),
    );
  });
}
