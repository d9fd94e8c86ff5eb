import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CliError } from './cli-error';
import { parseAmount, parseItem } from './sale-options';

describe('parseAmount', () => {
  it('reads whole and decimal amounts as minor units', () => {
    expect(parseAmount('--limit', '25')).toBe(2500);
    expect(parseAmount('--limit', '25.5')).toBe(2550);
    expect(parseAmount('--limit', '0.07')).toBe(7);
    for (const bad of ['', '-1', '1.234', '1e3', '0', '0.00', 'abc', '1,50', '1000000.01'])
      expect(() => parseAmount('--limit', bad), bad).toThrow(CliError);
  });

  it('property: formatting minor units as d.dd and parsing them back is the identity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000_000 }),
        (minor) =>
          parseAmount('x', `${Math.floor(minor / 100)}.${String(minor % 100).padStart(2, '0')}`) === minor,
      ),
    );
  });

  it('property: any string either parses to a positive integer or raises only CliError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        try {
          const n = parseAmount('x', s);
          return Number.isSafeInteger(n) && n > 0;
        } catch (e) {
          return e instanceof CliError && e.exitCode === 2;
        }
      }),
    );
  });
});

describe('parseItem', () => {
  it('reads SKU:NAME:QTY:PRICE', () => {
    expect(parseItem('tea:Green tea:2:3.50')).toEqual({
      sku: 'tea',
      name: 'Green tea',
      quantity: 2,
      unitPriceMinor: 350,
    });
    for (const bad of [
      'tea:Green:2',
      'te a:Green:1:1',
      'tea::1:1',
      'tea:Green:0:1',
      'tea:Green:1:x',
      'a:b:c:d:e',
    ])
      expect(() => parseItem(bad), bad).toThrow(CliError);
  });

  it('property: random text raises only CliError (usage), or gives a valid item', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        try {
          const it = parseItem(s);
          return it.quantity >= 1 && it.unitPriceMinor > 0 && it.name.length > 0;
        } catch (e) {
          return e instanceof CliError && e.exitCode === 2;
        }
      }),
    );
  });
});
